"""The findings page: each claim of a paper, the paper's number, this run's number with its
interval and chance level, and a plain verdict (holds / does not hold / not measurable here).

- :mod:`speechneurons.findings.claims`: the verdict rules shared by every study.
- :mod:`speechneurons.findings.property_neurons`: the claims of Lin et al. (2024).
- :mod:`speechneurons.findings.trajectories`: the claims of the layer-wise analysis during
  pretraining (Pasad et al.; Vielzeuf 2024).
- :mod:`speechneurons.findings.dissection`: the claims of network dissection (AND, Wu et al. 2024).
- :mod:`speechneurons.findings.layer_guide`: Pasad et al.'s claim that the PWCCA curve ranks the
  layers as the probes do.
- :mod:`speechneurons.findings.dissection_kinds`: AND's model behaviours (acoustic against
  linguistic neurons; the SSL model against its CTC fine-tuned twin).
- :mod:`speechneurons.findings.saes`: the claims of Ayonrinde (2024).
- :mod:`speechneurons.findings.page`: the HTML page of a findings table.
"""

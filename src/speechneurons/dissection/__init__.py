"""Network dissection of speech-model neurons (after AND, Wu et al., ICML 2024).

Every FFN neuron is described in words from the speech items that excite it most and least:

1. ``items``: phone-segment and utterance items, each neuron's top / bottom K items;
2. ``segments`` + ``describe``: discrete attributes and a caption of every item, from the labels
   and from the audio (loudness, spectral centroid and tilt, duration), with no model download;
3. ``concepts``: the item x concept matrix and CLIP-Dissect's similarity functions;
4. ``summary``: the open-concept summary (values shared by the top items and not the bottom);
5. ``writer`` (template) or ``llm`` (a local OpenAI-compatible endpoint): one sentence per neuron;
6. ``browser``: a self-contained HTML page with playable snippets;
7. ``scoring``: agreement with property neurons against a permutation null, and concept-specific
   pruning against an activation-rate-matched random control.

``dissect`` runs steps 1-5 on one layer and writes its tables; ``settings`` holds the
``dissection`` config section.
"""

"""The result paths of a workflow run, for tests that check its outputs: the Layout of the
default config (results_dir ``results``), whose methods take the corpus and model names."""

from speechneurons.config import defaults
from speechneurons.layout import Layout

RESULTS = Layout(defaults())

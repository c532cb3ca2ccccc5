"""Fetch a Hugging Face model into the local Hugging Face cache (model.download: true)."""

from speechneurons.io import write_json
from speechneurons.logs import script_logging
from speechneurons.model.registry import download_model

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    ref = snakemake.params.ref
    folder = download_model(ref)
    files = sorted(p.name for p in folder.iterdir())
    write_json(snakemake.output[0], {"ref": ref, "snapshot": str(folder), "files": files})
    log.info("%s: %d files in %s", ref, len(files), folder)

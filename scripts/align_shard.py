"""Align one shard of the manifest (pocketsphinx, reference or precomputed-TextGrids backend)."""

from speechneurons.align.alignment import align_rows, pocketsphinx_align_fn, reference_align_fn, shard_rows
from speechneurons.align.precomputed import textgrids_align_fn
from speechneurons.corpus.manifest import read_manifest
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    p = snakemake.params
    aligner, shard = snakemake.wildcards.aligner, int(snakemake.wildcards.shard)
    # read_manifest: an empty transcript stays '' (read_table would give NaN, aligned as the word 'nan')
    rows = shard_rows(read_manifest(snakemake.input.manifest), shard, p.shards)
    if aligner == "pocketsphinx":
        ps = p.pocketsphinx
        align_fn = pocketsphinx_align_fn(
            ps["beams"], p.sample_rate, ps["edge_silence_s"], ps["fit_min_score"], ps["fit_max_quiet_share"]
        )
    elif aligner == "textgrids":
        align_fn = textgrids_align_fn(p.textgrids_root)
    else:
        align_fn = reference_align_fn(snakemake.input.reference)
    report = align_rows(rows, align_fn, snakemake.output[0], p.on_bad_input)
    log.info(
        "%s shard %d: %d of %d aligned (the time is in the job's benchmark)",
        aligner,
        shard,
        (report.status == "aligned").sum(),
        len(report),
    )

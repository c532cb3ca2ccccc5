# The activations stage: which frames to dump (labels only), one forward pass per (model,
# checkpoint) writing every layer's float16 FFN activations at the phones' middle frames, one
# more pass (for the SAEs only) writing those at the sampled frames, and the index tables that
# join labels, pitch and speakers to the array rows. The sample arrays are intermediate (temp
# unless keep_intermediates) and come from their own job, so that recomputing them for an SAE
# setting never rewrites the middle-frame arrays that properties and dissection read. The index
# does not depend on the model's outputs, so changing the pitch binning reruns the index (and
# what follows), never the model.
from speechneurons.activations.selection import SUBSETS

ALL_TARGETS += [
    path
    for c, m in PAIRS
    for checkpoint in config["activations"]["checkpoints"]
    for subset in SUBSETS
    for path in [
        # the sample arrays are intermediate (read by the SAEs only)
        *(
            L.activation_array(subset, l, c, m, checkpoint)
            for l in S.layers_of(m)
            if subset == "mid" or config["keep_intermediates"]
        ),
        L.activation_index(subset, c, m, checkpoint),
    ]
]
# The dump writes one array per layer, and Snakemake's outputs cannot depend on a wildcard:
# one dump rule per distinct layer list (one rule when every model has the same layers).
LAYER_LISTS = {}
for m in MODELS:
    LAYER_LISTS.setdefault(tuple(S.layers_of(m)), []).append(m)


rule activations_select:
    input:
        labels=L.frame_labels(),
        manifest=L.manifest(),
    output:
        selection=L.frame_selection(),
    log:
        L.log("{corpus}", "labels", "{aligner}", "select_frames"),
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        sample_frames=config["activations"]["sample_frames"],
        seed=config["seed"],
    script:
        "../scripts/activations_select.py"


for i, (dump_layers, dump_models) in enumerate(LAYER_LISTS.items()):
    # the two passes (middle frames, sampled frames) differ only in the subset they write,
    # which the job reads from its outputs
    DUMP_PARAMS = dict(
        model_ref=I.checkpoint_ref,
        random_weights=lambda w: is_random(w.checkpoint),
        layers=list(dump_layers),
        frames=config["frames"],
        device=config["device"],
        batch_seconds=config["activations"]["batch_seconds"],
        max_pad_ratio=config["activations"]["max_pad_ratio"],
        on_bad_input=config["on_bad_input"],
        # random-weights checkpoints: 'random' at the config's seed, 'random-<i>' at seed + i - 1
        seed=lambda w: config["seed"] + (random_seed_offset(w.checkpoint) if is_random(w.checkpoint) else 0),
        results_dir=lambda w: config["results_dir"],  # a function: the model path in dump.json is relative to it
    )

    rule:
        name:
            "activations_dump" if i == 0 else f"activations_dump_{i + 1}"
        input:
            model=I.checkpoint_input,
            selection=L.frame_selection(aligner=ALIGNER),
            manifest=L.manifest(),
        output:
            mid=[L.activation_array("mid", l) for l in dump_layers],
            skipped=L.activations_skipped(),
            stats=L.dump_info(),
        log:
            L.log("{corpus}", "activations", "{model}", "{checkpoint}", "dump"),
        benchmark:
            L.benchmark("{corpus}", "activations", "{model}", "{checkpoint}", "dump")
        wildcard_constraints:
            model=one_of(dump_models),
        conda:
            "../envs/speechneurons.yaml"
        threads: 4
        resources:
            mem_mb=8000,
            runtime=240,
            gpu=GPU,
        params:
            **DUMP_PARAMS,
        script:
            "../scripts/activations_dump.py"

    rule:
        name:
            "activations_sample" if i == 0 else f"activations_sample_{i + 1}"
        input:
            model=I.checkpoint_input,
            selection=L.frame_selection(aligner=ALIGNER),
            manifest=L.manifest(),
        output:
            sample=[intermediate(L.activation_array("sample", l)) for l in dump_layers],
        log:
            L.log("{corpus}", "activations", "{model}", "{checkpoint}", "sample"),
        benchmark:
            L.benchmark("{corpus}", "activations", "{model}", "{checkpoint}", "sample")
        wildcard_constraints:
            model=one_of(dump_models),
        conda:
            "../envs/speechneurons.yaml"
        threads: 4
        resources:
            mem_mb=8000,
            runtime=240,
            gpu=GPU,
        params:
            **DUMP_PARAMS,
        script:
            "../scripts/activations_dump.py"


rule activations_index:
    input:
        selection=L.frame_selection(aligner=ALIGNER),
        labels=L.frame_labels(aligner=ALIGNER),
        pitch=L.pitch_frames(),
        manifest=L.manifest(),
    output:
        mid=L.activation_index("mid"),
        sample=L.activation_index("sample"),
    log:
        L.log("{corpus}", "activations", "{model}", "{checkpoint}", "index"),
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=4000,
        runtime=10,
    script:
        "../scripts/activations_index.py"

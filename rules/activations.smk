# Rules of the activations stage: which frames to dump (labels only), one forward pass per
# (model, checkpoint) writing every layer's float16 FFN activations, and the index tables that
# join labels, pitch and speakers to the array rows. The index does not depend on the model's
# outputs, so changing the pitch binning reruns the index (and what follows), never the model.
import re

ALL_TARGETS += activation_targets()


rule select_frames:
    input:
        labels=frame_labels_path(),
        manifest=manifest_path(),
    output:
        selection=selection_path(),
    log:
        f"logs/{corpus_name()}/activations/select_frames.log",
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


rule dump_activations:
    input:
        model=model_input,
        selection=selection_path(),
        manifest=manifest_path(),
    output:
        mid=activation_arrays("mid"),
        sample=activation_arrays("sample"),
        skipped=f"{activations_dir()}/skipped.tsv",
        stats=f"{activations_dir()}/dump.json",
    log:
        f"logs/{corpus_name()}/activations/{{model}}/{{checkpoint}}/dump.log",
    benchmark:
        f"benchmarks/{corpus_name()}/activations/{{model}}/{{checkpoint}}/dump.tsv"
    wildcard_constraints:
        model=re.escape(model_name()),
        checkpoint=r"final|step-\d+",
    conda:
        "../envs/speechneurons.yaml"
    threads: 4
    resources:
        mem_mb=8000,
        runtime=240,
        gpu=1,
    params:
        model_ref=model_ref,
        layers=activation_layers(),
        frames=config["frames"],
        device=config["device"],
        batch_seconds=config["activations"]["batch_seconds"],
        max_pad_ratio=config["activations"]["max_pad_ratio"],
        on_bad_input=config["on_bad_input"],
        seed=config["seed"],
    script:
        "../scripts/activations_dump.py"


rule activation_index:
    input:
        selection=selection_path(),
        labels=frame_labels_path(),
        pitch=pitch_frames_path(),
        manifest=manifest_path(),
    output:
        mid=activation_index_path("mid"),
        sample=activation_index_path("sample"),
    log:
        f"logs/{corpus_name()}/activations/{{model}}/{{checkpoint}}/index.log",
    wildcard_constraints:
        model=re.escape(model_name()),
        checkpoint=r"final|step-\d+",
    conda:
        "../envs/speechneurons.yaml"
    resources:
        mem_mb=4000,
        runtime=10,
    script:
        "../scripts/activations_index.py"

"""Sparse autoencoders: training throughput (tokens per second) and held-out FVU of the
project's TopK SAE (:func:`speechneurons.saes.train_sae`) against EleutherAI sparsify's TopK
``SparseCoder`` (PyPI ``eai-sparsify``), at equal D_in, F, k, batch size, steps, learning-rate
schedule and aux-k settings, on the same activation rows, in the same process, on the same CPU
threads (1), both timed alike (wall and process CPU time of the whole training call, the
initialisation included, and wall time of the training loop alone; after an untimed warm-up
call of each; runs interleaved, medians of the repeats).

Activations: the embedded default's layer-3 FFN sample (``results/synth/activations/tinyhubert/
final/layer-3/sample.npy``, float16 [50000, 1024]) from ``/work/baseline`` once its ``READY``
exists, else from a finished default run in ``/work/main`` (read only), else synthetic rows of
the same shape (sparse combinations of 4 D_in random atoms plus noise). Held out: the rows of
the corpus's test utterances (the dump index's ``split``), else a seeded 10 % of the rows.

Both SAEs see the same scaled rows (x * s, E||x s||^2 = D_in, the project's normalisation;
sparsify's trainer does not normalise, and its FVU is scale-free). The sparsify side mirrors
``sparsify.Trainer`` for one hookpoint: b_dec = mean of the first batch, decoder renormalised
before each forward, loss = fvu + auxk_alpha * auxk_loss, gradient component parallel to the
decoder rows removed, torch.optim.Adam (its trainer's 'adam' choice), dead latents = more than
``dead_tokens`` tokens since they last fired; its learning rate follows the same schedule as
ours (:func:`speechneurons.saes.training.lr_at`).

Each side runs with its own defaults for what is its own (ours: the schema's defaults, i.e.
``encoder_init_scale`` 0.577 = sparsify's nn.Linear row norm 1/sqrt(3), ``k_aux`` 64, b_pre the
geometric median; sparsify: k_aux = D // 2, fixed in its code, b_dec the mean of the first
batch) and the same shared settings (D, F, k, batch, steps, learning-rate schedule, aux-k
weight, dead threshold). More rows say where the differences come from: ours at sparsify's
k_aux = D // 2 (equal auxiliary work; ours also trains the dead latents' encoder rows, which
sparsify's fused encoder never does); ours with W_enc = W_dec^T (``encoder_init_scale`` 1, the
earlier default); both sides without aux-k. A table of the step's parts at the
benchmark shape (dense encoder product in float32 and bfloat16, top-k, encoder backward as
sparsify writes it and as this project does, decoder, Adam foreach vs fused) gives the
milliseconds. Held-out metrics: FVU, mean L0 and dead share (latents active on no held-out row).

sparsify is not a dependency of the project. The benchmark runs it from a separate virtual
environment that reuses the project's packages (so the same torch), made once with::

    python3.11 -m venv /tmp/saes-bench-venv
    echo /work/main/.venv/lib/python3.11/site-packages \\
        > /tmp/saes-bench-venv/lib/python3.11/site-packages/main_venv.pth
    /tmp/saes-bench-venv/bin/pip install --no-deps eai-sparsify einops natsort simple-parsing \\
        docstring-parser schedulefree accelerate datasets multiprocess dill xxhash

(``SAES_BENCH_PYTHON`` names another interpreter). When the running interpreter cannot import
sparsify, the benchmark re-runs itself with that one; without it, only our side is measured.

Flags: ``--quick`` (F = 2 D_in, fewer steps, one repeat).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

BASELINE = Path("/work/baseline")
DUMP = "results/synth/activations/tinyhubert/final"
#: The embedded default's layer-3 FFN sample: the baseline copy once READY, else a finished
#: dump of the default run in the main checkout (read only, copied into memory).
REAL_ROWS = [BASELINE / DUMP / "layer-3/sample.npy", Path("/work/main") / DUMP / "layer-3/sample.npy"]
BENCH_PYTHON = Path(os.environ.get("SAES_BENCH_PYTHON", "/tmp/saes-bench-venv/bin/python"))
OUT = ROOT / "benchmarks" / "bench" / "saes.json"

FULL = dict(expansion_factor=4, k=32, batch_size=1024, steps=100, repeats=1)
QUICK = dict(expansion_factor=2, k=32, batch_size=1024, steps=40, repeats=1)
LR, WARMUP, DECAY_SHARE, AUXK, DEAD_TOKENS = 1e-3, 20, 0.2, 1 / 32, 20_000


def synthetic_rows(n: int = 50_000, d: int = 1024, seed: int = 0) -> np.ndarray:
    """float16 [n, d]: each row = sum of ~12 of 4 d random unit atoms (Zipf-distributed atom
    frequencies) with exponential weights, plus a positive offset and Gaussian noise -- a
    rough stand-in for FFN activations when the real dump is absent."""
    rng = np.random.default_rng(seed)
    atoms = rng.normal(size=(4 * d, d)).astype(np.float32)
    atoms /= np.linalg.norm(atoms, axis=1, keepdims=True)
    p = np.arange(1, 4 * d + 1, dtype=np.float64) ** -0.8
    p /= p.sum()
    out = np.empty((n, d), dtype=np.float16)
    for s in range(0, n, 4096):
        e = min(n, s + 4096)
        idx = rng.choice(4 * d, size=(e - s, 12), p=p)
        w = rng.exponential(1.0, size=(e - s, 12)).astype(np.float32)
        block = np.einsum("nk,nkd->nd", w, atoms[idx]) + 0.3 + 0.05 * rng.normal(size=(e - s, d))
        out[s:e] = block.astype(np.float16)
    return out


def load_rows() -> tuple[np.ndarray, np.ndarray | None, str]:
    """Rows, their held-out mask (the corpus's test split when the dump's index has one) and
    where they come from."""
    import pandas as pd

    for path in REAL_ROWS:
        ready = not path.is_relative_to(BASELINE) or (BASELINE / "READY").exists()
        if ready and path.exists():
            x = np.load(path)
            held = None
            index = path.parent.parent / "index_sample.parquet"
            if index.exists():
                split = pd.read_parquet(index, columns=["split"])["split"].to_numpy()
                if len(split) == len(x) and (split == "test").any() and (split != "test").any():
                    held = split == "test"
            return x, held, str(path)
    return synthetic_rows(), None, "synthetic (50000 x 1024, 12 of 4096 atoms per row)"


def split(n: int, seed: int = 0, held: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Training and held-out row indices: the given held-out mask, else a seeded 90/10 split."""
    if held is not None:
        return np.flatnonzero(~held), np.flatnonzero(held)
    perm = np.random.default_rng(seed).permutation(n)
    cut = int(0.9 * n)
    return np.sort(perm[:cut]), np.sort(perm[cut:])


def ours_settings(p: dict, dtype: str = "float32", auxk: float | None = None, **overrides):
    """SaeSettings for TopK: the schema's defaults (the project's own choices: encoder init,
    k_aux, b_pre from the geometric median) with the benchmark's shared values (the same on
    both sides) and ``overrides``."""
    from speechneurons.config import defaults, settings_from
    from speechneurons.saes import SaeSettings

    section = dict(defaults()["saes"])
    section.update(
        expansion_factor=p["expansion_factor"],
        k=p["k"],
        batch_size=p["batch_size"],
        steps=p["steps"],
        lr=LR,
        lr_warmup_steps=WARMUP,
        lr_decay_share=DECAY_SHARE,
        auxk_coef=AUXK if auxk is None else auxk,
        aux_zipf_coef=0.0,
        dead_tokens=DEAD_TOKENS,
        dtype=dtype,
        **overrides,
    )
    return settings_from(SaeSettings, section, architecture="topk")


def run_ours(x: np.ndarray, p: dict, seed: int = 0, dtype: str = "float32", auxk: float | None = None, **overrides):
    """train_sae as the workflow calls it, timed."""
    from speechneurons.saes import train_sae

    settings = ours_settings(p, dtype, auxk, **overrides)
    w0, c0 = time.perf_counter(), time.process_time()
    sae, log = train_sae(x, settings, device="cpu", seed=seed)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    loop = float(log.seconds.iloc[-1])  # train_sae's clock starts after the initialisation

    def encode_decode(xb):
        codes = sae.encode(xb)
        return sae.decode(codes), codes.layout.latent[codes.values > 0]

    return (
        dict(wall_s=wall, cpu_s=cpu, loop_s=loop, last_train_fvu=float(log.fvu.iloc[-1])),
        encode_decode,
        float(sae.input_scale),
        sae.n_latents,
    )


def run_sparsify(
    x: np.ndarray, p: dict, scale: float, seed: int = 0, fused_adam: bool = False, auxk: float | None = None
):
    """sparsify's TopK SparseCoder trained as its Trainer does (see the module docstring)."""
    import torch
    from sparsify import SparseCoder, SparseCoderConfig

    from speechneurons.saes.training import lr_at

    settings = ours_settings(p)
    auxk = AUXK if auxk is None else auxk
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    n, d = x.shape
    w0, c0 = time.perf_counter(), time.process_time()
    sae = SparseCoder(d, SparseCoderConfig(expansion_factor=int(p["expansion_factor"]), k=p["k"]))
    opt = torch.optim.Adam(sae.parameters(), lr=LR, fused=True if fused_adam else None)
    since_fired = torch.zeros(sae.num_latents, dtype=torch.long)
    perm, pos, last_fvu = rng.permutation(n), 0, float("nan")
    l0 = time.perf_counter()
    for step in range(p["steps"]):
        if pos + p["batch_size"] > n:
            perm, pos = rng.permutation(n), 0
        idx = np.sort(perm[pos : pos + p["batch_size"]])
        pos += p["batch_size"]
        xb = torch.from_numpy(np.asarray(x[idx], dtype=np.float32)) * scale
        if step == 0:
            sae.b_dec.data = xb.mean(0)
        sae.set_decoder_norm_to_unit_norm()
        for group in opt.param_groups:
            group["lr"] = lr_at(step, settings)
        out = sae(xb, dead_mask=since_fired > DEAD_TOKENS if auxk > 0 else None)
        loss = out.fvu + auxk * out.auxk_loss
        loss.backward()
        sae.remove_gradient_parallel_to_decoder_directions()
        opt.step()
        opt.zero_grad(set_to_none=True)
        with torch.no_grad():
            fired = torch.zeros(sae.num_latents, dtype=torch.bool)
            fired[out.latent_indices.flatten()] = True
            since_fired += xb.shape[0]
            since_fired[fired] = 0
        last_fvu = out.fvu.item()
    end = time.perf_counter()
    wall, cpu, loop = end - w0, time.process_time() - c0, end - l0

    def encode_decode(xb):
        out = sae(xb.float() * scale)
        return out.sae_out / scale, out.latent_indices[out.latent_acts > 0]

    return dict(wall_s=wall, cpu_s=cpu, loop_s=loop, last_train_fvu=last_fvu), encode_decode, sae.num_latents


def heldout_metrics(encode_decode, x: np.ndarray, n_latents: int, batch: int = 2048) -> dict:
    """FVU = sum ||x - x_hat||^2 / sum ||x - mean(x)||^2 (float64 sums), mean L0 and dead share
    (latents active on no held-out row), with each side's inference rule (TopK for both)."""
    import torch

    sse, s1, s2, n, active = 0.0, 0.0, 0.0, 0, 0
    fired = torch.zeros(n_latents, dtype=torch.long)
    for s in range(0, len(x), batch):
        xb = torch.from_numpy(np.asarray(x[s : s + batch], dtype=np.float32))
        with torch.no_grad():
            xh, latents = encode_decode(xb)
        sse += float((xb - xh.float()).double().pow(2).sum())
        s1 = s1 + xb.double().sum(0)
        s2 += float(xb.double().pow(2).sum())
        n += len(xb)
        active += latents.numel()
        fired += torch.bincount(latents.reshape(-1), minlength=n_latents)
    total = s2 - float((s1 * s1).sum()) / n
    return dict(heldout_fvu=sse / total, heldout_l0=active / n, heldout_dead_share=float((fired == 0).float().mean()))


def timeit(fn, repeats: int = 5) -> float:
    fn()
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats * 1000


def step_parts(n: int, d: int, f: int, k: int, seed: int = 0) -> dict:
    """Milliseconds of the parts of one TopK step at the benchmark shape (1 thread)."""
    import torch
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    w = (torch.randn(f, d, generator=g) / d**0.5).requires_grad_()
    b = torch.zeros(f, requires_grad=True)
    pre = F.linear(x, w, b).detach()
    vals, idx = pre.topk(k, dim=1, sorted=False)
    grad = torch.randn(n, k, generator=g)
    parts = {
        "encoder product (dense, both)": timeit(lambda: F.linear(x, w.detach(), b.detach())),
        "ReLU over N x F (sparsify, before top-k)": timeit(lambda: F.relu(pre)),
        "top-k per token (both)": timeit(lambda: pre.topk(k, dim=1, sorted=False)),
    }
    if importlib.util.find_spec("sparsify") is not None:
        from sparsify.fused_encoder import FusedEncoder

        def sparsify_forward():
            return FusedEncoder.apply(x, w, b, k, "topk")

        def sparsify_forward_backward():
            sparsify_forward()[0].backward(grad)

        fwd = timeit(sparsify_forward)
        parts["encoder backward, sparsify FusedEncoder ([N,k,D] products + index_add; fwd+bwd - fwd)"] = (
            timeit(sparsify_forward_backward) - fwd
        )

    from speechneurons.saes.sparse_ops import layout_from_topk, sampled_linear

    b_pre = torch.zeros(d, requires_grad=True)

    def ours_backward():
        layout = layout_from_topk(idx, f)  # the argsorts and offsets are part of our cost
        sampled_linear(x, b_pre, w, b, pre, layout).backward(grad.reshape(-1))

    parts["encoder backward, ours sampled_linear (embedding_bag over latent-sorted entries, layout included)"] = timeit(
        ours_backward
    )
    wd = w.detach().clone().requires_grad_()

    def decode():
        F.embedding_bag(idx, wd, mode="sum", per_sample_weights=vals).sum().backward()

    parts["decoder fwd+bwd, embedding_bag with its own backward (sparsify)"] = timeit(decode)
    from speechneurons.saes.sparse_ops import sparse_decode

    layout = layout_from_topk(idx, f)
    v1 = vals.reshape(-1).clone().requires_grad_()

    def ours_decode():
        sparse_decode(v1, wd, layout).sum().backward()

    parts["decoder fwd+bwd, ours sparse_decode"] = timeit(ours_decode)
    xb16 = x.to(torch.bfloat16)
    wb16 = w.detach().to(torch.bfloat16)
    parts["encoder product in bfloat16 (ours with dtype: bfloat16)"] = timeit(lambda: F.linear(xb16, wb16))
    params = [torch.nn.Parameter(torch.randn(f, d)) for _ in range(2)] + [torch.nn.Parameter(torch.randn(f))]
    for q in params:
        q.grad = torch.randn_like(q)
    for name, kw in (("Adam step, foreach (torch default)", {}), ("Adam step, fused=True", dict(fused=True))):
        opt = torch.optim.Adam(params, lr=1e-3, **kw)
        parts[name] = timeit(opt.step)
    return {key: round(v, 2) for key, v in parts.items()}


def measure(quick: bool) -> dict:
    import torch

    torch.set_num_threads(1)
    p = QUICK if quick else FULL
    x, held_mask, source = load_rows()
    train, held = split(len(x), held=held_mask)
    x_train = np.asarray(x[train])  # both sides read the same in-memory rows
    x_held = np.asarray(x[held])
    has_sparsify = importlib.util.find_spec("sparsify") is not None
    names = ["ours", "sparsify", "ours_k_aux_d_half", "ours_encoder_init_1", "ours_no_auxk", "sparsify_no_auxk"]
    runs: dict[str, list[dict]] = {name: [] for name in names}
    metrics: dict[str, dict] = {}

    def record(name, timing, encode_decode, n_latents):
        runs[name].append(timing)
        if name not in metrics:
            metrics[name] = heldout_metrics(encode_decode, x_held, n_latents)

    warm = dict(p, steps=3)  # first calls pay for imports and lazy kernel set-up: not timed
    run_ours(x_train, warm)
    if has_sparsify:
        run_sparsify(x_train, warm, 1.0)
    for r in range(p["repeats"]):  # interleaved: ours, sparsify, ours, sparsify, ...
        t, ed, scale, f = run_ours(x_train, p, seed=r)
        record("ours", t, ed, f)
        if has_sparsify:
            record("sparsify", *run_sparsify(x_train, p, scale, seed=r))
    record("ours_k_aux_d_half", *run_ours(x_train, p, k_aux=0)[:2], f)  # sparsify's fixed k_aux = D // 2
    record("ours_encoder_init_1", *run_ours(x_train, p, encoder_init_scale=1.0)[:2], f)  # W_enc = W_dec^T
    record("ours_no_auxk", *run_ours(x_train, p, auxk=0.0)[:2], f)
    if has_sparsify:
        record("sparsify_no_auxk", *run_sparsify(x_train, p, scale, auxk=0.0))
    tokens = p["steps"] * p["batch_size"]
    table = []
    for name, rs in runs.items():
        if not rs:
            continue
        wall = float(np.median([r["wall_s"] for r in rs]))
        cpu = float(np.median([r["cpu_s"] for r in rs]))
        loop = float(np.median([r["loop_s"] for r in rs]))
        table.append(
            dict(
                implementation=name,
                tokens_per_s_wall=round(tokens / wall),
                tokens_per_s_cpu=round(tokens / cpu),
                tokens_per_s_loop=round(tokens / loop),
                wall_s=round(wall, 2),
                cpu_s=round(cpu, 2),
                loop_s=round(loop, 2),
                runs=len(rs),
                last_train_fvu=round(float(np.median([r["last_train_fvu"] for r in rs])), 4),
                **{key: round(v, 4) for key, v in metrics[name].items()},
            )
        )
    d = x.shape[1]
    result = dict(
        source=source,
        threads=torch.get_num_threads(),
        torch=torch.__version__,
        d_in=d,
        n_latents=int(p["expansion_factor"] * d),
        train_rows=len(train),
        heldout_rows=len(held),
        heldout="test split of the corpus" if held_mask is not None else "seeded 10 % of the rows",
        settings=dict(
            p, lr=LR, lr_warmup_steps=WARMUP, lr_decay_share=DECAY_SHARE, auxk_coef=AUXK, dead_tokens=DEAD_TOKENS
        ),
        sparsify=_sparsify_version(),
        table=table,
        step_parts_ms=step_parts(p["batch_size"], d, int(p["expansion_factor"] * d), p["k"]),
    )
    by = {row["implementation"]: row for row in table}
    if "sparsify" in by:
        result["speedup_wall"] = round(by["ours"]["tokens_per_s_wall"] / by["sparsify"]["tokens_per_s_wall"], 3)
        result["speedup_cpu"] = round(by["ours"]["tokens_per_s_cpu"] / by["sparsify"]["tokens_per_s_cpu"], 3)
        result["speedup_loop"] = round(by["ours"]["tokens_per_s_loop"] / by["sparsify"]["tokens_per_s_loop"], 3)
    if "sparsify_no_auxk" in by:
        result["speedup_cpu_no_auxk"] = round(
            by["ours_no_auxk"]["tokens_per_s_cpu"] / by["sparsify_no_auxk"]["tokens_per_s_cpu"], 3
        )
    # every row of ours against sparsify under the same aux-k condition: CPU-time speed-up and
    # whether its held-out FVU is equal or better (the goal: >= 1.2x at equal or better FVU)
    result["versus_sparsify"] = [
        dict(
            implementation=name,
            against=ref,
            speedup_cpu=round(row["tokens_per_s_cpu"] / by[ref]["tokens_per_s_cpu"], 3),
            fvu=row["heldout_fvu"],
            sparsify_fvu=by[ref]["heldout_fvu"],
            goal_met=bool(
                row["heldout_fvu"] <= by[ref]["heldout_fvu"]
                and row["tokens_per_s_cpu"] >= 1.2 * by[ref]["tokens_per_s_cpu"]
            ),
        )
        for name, row in by.items()
        if name.startswith("ours")
        for ref in ["sparsify_no_auxk" if "no_auxk" in name else "sparsify"]
        if ref in by
    ]
    return result


def _sparsify_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("eai-sparsify")
    except Exception:
        return None


def print_table(result: dict) -> None:
    cols = [
        "implementation",
        "tokens_per_s_wall",
        "tokens_per_s_cpu",
        "tokens_per_s_loop",
        "wall_s",
        "heldout_fvu",
        "heldout_dead_share",
        "heldout_l0",
    ]
    p = result["settings"]
    print(
        f"SAE TopK training, {result['source']}; D={result['d_in']} F={result['n_latents']} k={p['k']} "
        f"N={p['batch_size']} steps={p['steps']}, {result['threads']} thread(s)"
    )
    print(" | ".join(cols))
    for row in result["table"]:
        print(" | ".join(str(row[c]) for c in cols))
    if "speedup_cpu_no_auxk" in result:
        print(f"without aux-k on both sides: {result['speedup_cpu_no_auxk']}x (CPU time)")
    if "speedup_wall" in result:
        print(
            f"ours / sparsify throughput: {result['speedup_wall']}x (wall), {result['speedup_cpu']}x (CPU time), "
            f"{result['speedup_loop']}x (training loop only, wall); "
            "target >= 1.2x at equal or better held-out FVU"
        )
    for v in result.get("versus_sparsify", []):
        print(
            f"{v['implementation']} vs {v['against']}: {v['speedup_cpu']}x CPU throughput, FVU {v['fvu']} vs "
            f"{v['sparsify_fvu']}, goal {'met' if v['goal_met'] else 'not met'}"
        )
    print("step parts (ms): " + "; ".join(f"{k}: {v}" for k, v in result["step_parts_ms"].items()))


def main(flags: list[str] | None = None) -> dict:
    flags = flags or []
    if importlib.util.find_spec("sparsify") is None and BENCH_PYTHON.exists() and "--no-reexec" not in flags:
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        subprocess.run([str(BENCH_PYTHON), __file__, *flags, "--no-reexec"], check=True, env=env)
        return json.loads(OUT.read_text())
    result = measure("--quick" in flags)
    print_table(result)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])

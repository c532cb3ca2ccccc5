"""What *activated* means, defined once for every stage.

Neuron j of a layer is activated at frame t when it is among the top tau neurons of the layer
by |a_t,j|; ties at the tau-th value go to the LOWER neuron index (deterministic: exactly tau
neurons are activated at every frame). The property statistic counts these activations, the
dissection and the matched controls use the activation rate (the share of frames at which a
neuron is activated; chance tau / D).

torch is imported inside the functions that need it, so that reading rates from a P.npz
(:func:`rates_from_npz`) stays light.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from speechneurons.io import load_npz


def topk_indices(x, k: int):
    """Column indices [n, k] of the top ``k`` entries of each row of ``x`` by |x|.

    Among entries tied at the k-th largest |x| the lower column indices win (deterministic,
    unlike torch.topk's choice). One ``topk`` of k + 1 sorted values per row finds the rows
    where a tie crosses the boundary (the (k+1)-th value equals the k-th); only those rows are
    resolved, by keeping every entry above the k-th value and the first tied entries.
    """
    import torch

    n, D = x.shape
    a = x.abs()
    vals, idx = torch.topk(a, min(k + 1, D), dim=1, sorted=True)
    top = idx[:, :k]
    if k < D:
        tied = (vals[:, k] == vals[:, k - 1]).nonzero().squeeze(1)
        if tied.numel():
            at, thr = a[tied], vals[tied, k - 1 : k]
            eq = at == thr
            need = k - (vals[tied, :k] > thr).sum(dim=1, keepdim=True)
            keep = (at > thr) | (eq & (eq.cumsum(dim=1) <= need))
            top = top.clone()
            top[tied] = keep.nonzero(as_tuple=True)[1].reshape(-1, k)  # k per row, ascending
    return top


def activation_rate(acts: np.ndarray, tau: int, chunk: int = 4096, rows: np.ndarray | None = None) -> np.ndarray:
    """[D] share of the rows of ``acts`` ([n, D], any float dtype, a memmap or a
    :class:`speechneurons.io.NpyRows`) at which each neuron is activated (:func:`topk_indices`
    of |activations| as float32), read ``chunk`` rows at a time; ``rows``: a boolean mask [n] of
    the rows to count (default all)."""
    import torch

    n, d = int(acts.shape[0]), int(acts.shape[1])
    if not 1 <= tau <= d:
        raise ValueError(f"tau = {tau} must lie in 1..{d}")
    if rows is not None:
        rows = np.asarray(rows, dtype=bool)
        if rows.shape != (n,):
            raise ValueError(f"the row mask has shape {rows.shape}, expected ({n},)")
    counts = np.zeros(d, dtype=np.int64)
    used = 0
    for lo in range(0, n, chunk):
        block = acts[lo : lo + chunk]
        if rows is not None:
            block = block[rows[lo : lo + chunk]]
        if not len(block):
            continue
        used += len(block)
        x = torch.from_numpy(np.array(block, dtype=np.float32))
        counts += np.bincount(topk_indices(x, tau).numpy().ravel(), minlength=d)
    return counts / max(used, 1)


def activation_rates(active: Sequence[np.ndarray], frames: Sequence[np.ndarray]) -> np.ndarray:
    """Activation rate of every neuron of a layer from the statistic's counts: the activations
    A[c, j] summed over cells, divided by the frames n[c] summed over the same cells (pass the
    arrays of groups that partition the frames, e.g. the three phone types)."""
    total_active = sum(np.asarray(a, dtype=np.float64).sum(axis=0) for a in active)
    total_frames = float(sum(np.asarray(n, dtype=np.float64).sum() for n in frames))
    return total_active / max(total_frames, 1.0)


def rates_from_npz(path, prop: str | None = None, group: str | None = None) -> np.ndarray:
    """Activation rates of a layer from its P.npz (the property statistic's counts over the
    frames it used: the phone-type groups partition them). With ``prop`` and ``group``, the
    rates on that group's frames only (e.g. gender, F: how often each neuron is active on
    female speech)."""
    with load_npz(path) as npz:
        if prop is not None:
            key = f"{prop}__{group}"
            if f"A__{key}" not in npz.files:
                have = sorted(k.removeprefix("A__") for k in npz.files if k.startswith("A__"))
                raise KeyError(f"{path}: no counts of {prop} = {group} (has {have})")
            return activation_rates([npz[f"A__{key}"]], [npz[f"n__{key}"]])
        groups = sorted(k.removeprefix("A__phone_type__") for k in npz.files if k.startswith("A__phone_type__"))
        return activation_rates(
            [npz[f"A__phone_type__{g}"] for g in groups], [npz[f"n__phone_type__{g}"] for g in groups]
        )


CONTROL_RATES = ("in_group", "overall")


def control_rates(path, erasure: str, how: str) -> np.ndarray:
    """The activation rates of a layer (its P.npz) that the random control of ``erasure`` (e.g.
    'gender-F') is matched on, ``how`` being experiments.erasure_control_rate: 'in_group', the
    rates on the erased group's frames (a control as busy where the erased units fire);
    'overall', over all frames."""
    if how not in CONTROL_RATES:
        raise ValueError(f"erasure_control_rate must be one of {CONTROL_RATES}, not {how!r}")
    from speechneurons.study import parse_erasure_name

    return rates_from_npz(path, *(parse_erasure_name(erasure) if how == "in_group" else ()))

"""Training one SAE on activation rows.

``train_sae(x, settings, device, seed)``: rows of a float16/float32 array (a memory map is
fine: only sampled minibatches and an initialisation sample are read), Adam, one seed for
everything random (initial decoder, minibatch order, initialisation sample), the same
weights for the same seed on the CPU.

Per step: a minibatch of N rows (without replacement within an epoch, read in sorted index
order), scaled by the input scale; forward with the training selection rule; loss =
reconstruction + auxk_coef * aux-k + aux_zipf_coef * aux-zipf (:mod:`.losses`); backward;
remove the decoder-gradient component parallel to each decoder direction; Adam step;
renormalise the decoder directions; update the dead-latent counters and usage EMA.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from ..device import resolve_device
from .losses import reconstruction_loss, residual_aux_loss, zipf_weights_underused
from .sae import SparseAutoencoder
from .settings import SaeSettings

log = logging.getLogger(__name__)

#: Rows read to set the input scale and b_pre (the geometric median of 4096 x 1024 takes ~0.3 s).
INIT_ROWS = 4096
#: Weiszfeld iterations for the geometric median.
MEDIAN_ITERATIONS = 50

LOG_COLUMNS = [
    "step",
    "tokens",
    "lr",
    "loss",
    "fvu",
    "auxk_loss",
    "aux_zipf_loss",
    "l0_mean",
    "stale_share",
    "underused_share",
    "heldout_fvu",
    "dead_share",
    "seconds",
]
#: held-out rows the training log's held-out FVU is computed on (a fixed, seeded subsample)
HELD_LOG_ROWS = 2048


def geometric_median(x: Tensor, iterations: int = MEDIAN_ITERATIONS, eps: float = 1e-8) -> Tensor:
    """argmin_m sum_n ||x_n - m|| by Weiszfeld's iterations from the mean:
    m <- sum_n w_n x_n / sum_n w_n with w_n = 1 / max(||x_n - m||, eps)."""
    x = x.double()
    m = x.mean(0)
    for _ in range(iterations):
        w = 1.0 / (x - m).norm(dim=1).clamp_min(eps)
        new = (w[:, None] * x).sum(0) / w.sum()
        if torch.allclose(new, m, rtol=0, atol=1e-7 * (1 + m.norm().item())):
            m = new
            break
        m = new
    return m.float()


def input_scale(x: Tensor) -> float:
    """s = sqrt(D / mean_n ||x_n||^2), so that E||s x||^2 = D."""
    ms = float(x.double().pow(2).sum(1).mean())
    return float(np.sqrt(x.shape[1] / ms)) if ms > 0 else 1.0


def _rows(x, idx: np.ndarray, device: torch.device) -> Tensor:
    """float32 rows ``idx`` (sorted, for memory-map locality) of an array or tensor."""
    if isinstance(x, torch.Tensor):
        return x[torch.from_numpy(idx).to(x.device)].to(device=device, dtype=torch.float32)
    return torch.from_numpy(np.ascontiguousarray(x[idx], dtype=np.float32)).to(device)


class _BatchSampler:
    """Minibatches of row indices: a fresh permutation per epoch, each batch sorted."""

    def __init__(self, n_rows: int, batch_size: int, rng: np.random.Generator):
        self.n, self.b, self.rng = n_rows, min(batch_size, n_rows), rng
        self.perm, self.pos = rng.permutation(n_rows), 0

    def next(self) -> np.ndarray:
        if self.pos + self.b > self.n:
            self.perm, self.pos = self.rng.permutation(self.n), 0
        idx = np.sort(self.perm[self.pos : self.pos + self.b])
        self.pos += self.b
        return idx


def lr_at(step: int, settings: SaeSettings) -> float:
    """Linear warm-up over ``lr_warmup_steps``, constant, linear decay to 0 over the last
    ``lr_decay_share`` of the steps."""
    lr = settings.lr
    if settings.lr_warmup_steps > 0:
        lr *= min(1.0, (step + 1) / settings.lr_warmup_steps)
    decay_steps = int(round(settings.lr_decay_share * settings.steps))
    if decay_steps > 0:
        lr *= min(1.0, (settings.steps - step) / decay_steps)
    return lr


def initialise(sae: SparseAutoencoder, x, settings: SaeSettings, rng: np.random.Generator, device) -> None:
    """Input scale and b_pre from a sample of at most :data:`INIT_ROWS` rows."""
    n = x.shape[0]
    idx = np.sort(rng.choice(n, size=min(n, INIT_ROWS), replace=False))
    sample = _rows(x, idx, device)
    scale = input_scale(sample)
    sample = sample * scale
    centre = geometric_median(sample) if settings.b_pre_init == "geometric_median" else sample.mean(0)
    with torch.no_grad():
        sae.input_scale.fill_(scale)
        sae.b_pre.copy_(centre.to(sae.b_pre.dtype))


def train_sae(
    x: np.ndarray | Tensor,
    settings: SaeSettings,
    device: str | torch.device = "auto",
    seed: int = 0,
    sae: SparseAutoencoder | None = None,
    progress: bool = False,
    log_every: int = 10,
    x_held: np.ndarray | Tensor | None = None,
) -> tuple[SparseAutoencoder, pd.DataFrame]:
    """Train an SAE on the rows of ``x`` ([rows, D], float16/float32; a memory map is fine).

    ``sae``: start from this (already initialised) SAE instead of a fresh one (tests use it to
    plant dead latents). Returns the SAE on ``device`` in eval mode, its matrices rounded to
    their stored float16 values (:meth:`SparseAutoencoder.round_to_storage`), and a log with one row per
    ``log_every`` steps (columns :data:`LOG_COLUMNS`; loss terms and L0 are means over those
    steps, stale/under-used shares at the row's step; ``stale_share``: latents that did not
    fire in the last ``dead_tokens`` training tokens, the set AuxK revives, which is not the
    dead share). ``x_held``: held-out rows; each log row
    then has ``heldout_fvu``, the FVU of at most :data:`HELD_LOG_ROWS` of them (a fixed seeded
    subsample) under the inference rule (NaN without), which :func:`fvu_change_last_tenth`
    reads as the convergence criterion, and ``dead_share`` on the same rows (the one
    definition, :func:`speechneurons.saes.evaluation.dead_share`).
    """
    from tqdm.auto import tqdm

    device = resolve_device(device) if isinstance(device, str) else device
    n_rows, d_in = x.shape
    if n_rows < 2:
        raise ValueError("need at least 2 rows to train an SAE")
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    if sae is None:
        sae = SparseAutoencoder.build(d_in, settings, gen)
        sae.to(device)
        initialise(sae, x, settings, rng, device)
    sae.to(device).train()
    n_lat = sae.n_latents
    k_aux = settings.k_aux or d_in // 2
    opt = _adam(sae, settings.lr)
    sampler = _BatchSampler(n_rows, settings.batch_size, rng)
    since_fired = torch.zeros(n_lat, dtype=torch.long, device=device)
    usage = torch.zeros(n_lat, device=device)
    scale = float(sae.input_scale)
    rows, acc, t0 = [], _Acc(), time.perf_counter()
    held = None
    if x_held is not None and len(x_held):
        pick = np.random.default_rng([seed, 1]).choice(len(x_held), size=min(HELD_LOG_ROWS, len(x_held)), replace=False)
        pick = np.sort(pick)  # its own generator: the training batches do not depend on it
        held = _rows(x_held, pick, device)
    for step in tqdm(range(settings.steps), disable=not progress, desc=f"SAE {settings.architecture} k={settings.k}"):
        lr = lr_at(step, settings)
        for group in opt.param_groups:
            group["lr"] = lr
        xs = _rows(x, sampler.next(), device) * scale
        out = sae.train_forward(xs)
        loss_rec = reconstruction_loss(xs, out.x_hat)
        loss = loss_rec
        aux = zipf = torch.zeros((), device=device)
        if settings.auxk_coef > 0:
            dead = (since_fired >= settings.dead_tokens).float()
            aux = residual_aux_loss(sae, xs, out, dead, k_aux)
            loss = loss + settings.auxk_coef * aux
        if settings.aux_zipf_coef > 0:
            weights = zipf_weights_underused(usage, settings.k, settings.zipf_exponent)
            zipf = residual_aux_loss(sae, xs, out, weights, k_aux)
            loss = loss + settings.aux_zipf_coef * zipf
        opt.zero_grad(set_to_none=True)
        loss.backward()
        sae.remove_parallel_gradient()
        opt.step()
        sae.normalise_decoder()
        with torch.no_grad():
            fired = out.codes.fired()
            since_fired += xs.shape[0]
            since_fired[fired > 0] = 0
            usage.mul_(settings.ema_decay).add_((1 - settings.ema_decay) * fired.float() / xs.shape[0])
            acc.add(
                loss=float(loss),
                fvu=float(loss_rec),
                auxk_loss=float(aux),
                aux_zipf_loss=float(zipf),
                l0_mean=float(out.codes.l0().float().mean()),
            )
        if (step + 1) % log_every == 0 or step + 1 == settings.steps:
            with torch.no_grad():
                underused = float(
                    (zipf_weights_underused(usage, settings.k, settings.zipf_exponent) > 0).float().mean()
                )
            rows.append(
                dict(
                    step=step + 1,
                    tokens=(step + 1) * xs.shape[0],
                    lr=lr,
                    **acc.mean(),
                    stale_share=float((since_fired >= settings.dead_tokens).float().mean()),
                    underused_share=underused,
                    heldout_fvu=heldout_fvu(sae, held) if held is not None else float("nan"),
                    dead_share=heldout_dead_share(sae, held) if held is not None else float("nan"),
                    seconds=time.perf_counter() - t0,
                )
            )
            acc = _Acc()
    sae.eval().round_to_storage()  # the SAE evaluated from here on is the one saved
    train_log = pd.DataFrame(rows, columns=LOG_COLUMNS)
    if len(train_log):
        last = train_log.iloc[-1]
        log.info(
            "trained %s SAE (D=%d, F=%d, k=%d): %d steps in %.1f s, last FVU %.4f, stale %.1f%%",
            settings.architecture,
            d_in,
            n_lat,
            settings.k,
            settings.steps,
            last.seconds,
            last.fvu,
            100 * last.stale_share,
        )
    return sae, train_log


def heldout_fvu(sae: SparseAutoencoder, x: Tensor) -> float:
    """FVU of rows ``x`` under the inference rule: sum ||x - x_hat||^2 / sum ||x - mean||^2."""
    was_training = sae.training
    sae.eval()
    with torch.no_grad():
        xd = x.double()
        sse = (xd - sae(x).double()).pow(2).sum()
        dev = (xd - xd.mean(0)).pow(2).sum()
    sae.train(was_training)
    return float(sse / dev) if float(dev) > 0 else float("nan")


def heldout_dead_share(sae: SparseAutoencoder, x: Tensor) -> float:
    """The dead share (:func:`speechneurons.saes.evaluation.dead_share`) on rows ``x``."""
    from speechneurons.saes.evaluation import dead_share

    was_training = sae.training
    sae.eval()
    with torch.no_grad():
        fired = sae.encode(x).fired().cpu().numpy()
    sae.train(was_training)
    return dead_share(fired)


def fvu_change_last_tenth(train_log: pd.DataFrame) -> float:
    """The convergence criterion: the relative change of the held-out FVU over the last tenth
    of training, (FVU at the logged step nearest 90 % of the steps - the last FVU) / the
    former (> 0: still falling). NaN without held-out FVUs or with fewer than two log rows."""
    log_ = train_log.dropna(subset=["heldout_fvu"]) if "heldout_fvu" in train_log else train_log.iloc[:0]
    if len(log_) < 2:
        return float("nan")
    steps = log_["step"].to_numpy(dtype=float)
    i = int(np.argmin(np.abs(steps - 0.9 * steps[-1])))
    i = min(i, len(log_) - 2)
    before, last = float(log_["heldout_fvu"].iloc[i]), float(log_["heldout_fvu"].iloc[-1])
    return (before - last) / before if before > 0 else float("nan")


def _adam(sae: SparseAutoencoder, lr: float) -> torch.optim.Adam:
    """Adam, fused where torch has a fused kernel for the device (about 10x faster on the CPU
    than the per-tensor loop for F x D weights)."""
    try:
        return torch.optim.Adam(sae.parameters(), lr=lr, fused=True)
    except (RuntimeError, ValueError):
        return torch.optim.Adam(sae.parameters(), lr=lr)


class _Acc:
    """Running means of a few scalars."""

    def __init__(self):
        self.sums: dict[str, float] = {}
        self.n = 0

    def add(self, **values: float) -> None:
        for key, v in values.items():
            self.sums[key] = self.sums.get(key, 0.0) + v
        self.n += 1

    def mean(self) -> dict[str, float]:
        return {key: v / max(1, self.n) for key, v in self.sums.items()}

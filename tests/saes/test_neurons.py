"""Latent rows for the property statistic; the SAE spliced into a model's FFN site."""

import numpy as np
import torch

from speechneurons.model.ffn import capture_ffn
from speechneurons.saes import SparseAutoencoder
from speechneurons.saes.neurons import latent_rows, splice, spliced_ffn
from tests.helpers.models import tiny_config
from tests.helpers.sparse_dictionary import sae_settings


def _identity_sae(d: int) -> SparseAutoencoder:
    """F = D, W_enc = W_dec = I, biases 0, k = D: z = ReLU(h), x_hat = ReLU(h)."""
    sae = SparseAutoencoder.build(d, sae_settings("topk", k=d, expansion_factor=1.0))
    with torch.no_grad():
        sae.W_enc.copy_(torch.eye(d))
        sae.W_dec.copy_(torch.eye(d))
    return sae.eval()


def test_latent_rows_are_the_dense_codes():
    acts = np.array([[1.0, -2.0, 3.0], [0.5, 0.0, -1.0]], dtype=np.float16)
    z = latent_rows(_identity_sae(3), acts, chunk_rows=1)
    assert z.dtype == np.float16 and z.tolist() == [[1.0, 0.0, 3.0], [0.5, 0.0, 0.0]]


def test_splice_erases_latents_with_and_without_the_error_term():
    sae = _identity_sae(3)
    h = torch.tensor([[[1.0, -2.0, 3.0]]])
    assert splice(sae, h).tolist() == [[[1.0, 0.0, 3.0]]]  # x_hat = ReLU(h): the error is the -2
    assert splice(sae, h, erase=[2]).tolist() == [[[1.0, 0.0, 0.0]]]
    assert splice(sae, h, erase=[2], keep_error=True).tolist() == [[[1.0, -2.0, 0.0]]]
    assert torch.equal(splice(sae, h, erase=[], keep_error=True), h)


def test_spliced_ffn_changes_only_the_chosen_layer_and_unhooks():
    import transformers

    torch.manual_seed(0)
    model = transformers.HubertModel(tiny_config("hubert", layers=2, hidden=32, ffn=64)).eval()
    wave = torch.randn(1, 3200)
    with torch.no_grad(), capture_ffn(model, [1, 2]) as cap:
        ref = model(wave).last_hidden_state
        h1 = cap[1].clone()
        sae = _identity_sae(64)
        with spliced_ffn(model, {1: sae}, erase={1: list(range(64))}, keep_error=True):
            out = model(wave).last_hidden_state
        after = model(wave).last_hidden_state
    assert not torch.allclose(out, ref)
    assert torch.equal(after, ref)  # hooks removed
    assert torch.equal(cap[1], h1)  # the capture (registered first) sees the unspliced input
    with torch.no_grad(), spliced_ffn(model, {1: sae}, keep_error=True):
        assert torch.allclose(model(wave).last_hidden_state, ref, atol=1e-6)

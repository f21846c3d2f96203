"""The GPT's engine pieces and the whole model, against torch in float64.

Embedding (a primitive with a scatter-add backward), layer norm and causal attention
(composites), `nn.utils.clip_grad_norm_`, and a whole tiny GPT with weights copied from its
torch twin: the same logits and the same gradient for every parameter.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from op_check import HAS_TORCH, check_op

from gradschool import engine as E
from gradschool.engine import functional as F
from gradschool.engine import nn
from gradschool.errors import ConfigError
from gradschool.models import count_parameters, gpt

if HAS_TORCH:
    import torch

needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed")


def _tf():
    return torch.nn.functional


# ---- embedding: a primitive ---------------------------------------------------------------------


def test_embedding_equals_torch_with_repeated_and_missing_ids():
    ids = np.array([[0, 3, 3, 5], [5, 5, 0, 1]])  # ids repeat; 2 and 4 never occur
    result = check_op(
        [ids, (6, 7)],
        lambda i, w: F.embedding(i, w),
        (lambda i, w: _tf().embedding(i, w)) if HAS_TORCH else None,
    )
    grad = result.grads[1]
    assert np.all(grad[[2, 4]] == 0), "rows of ids that do not occur get no gradient"


def test_embedding_backward_is_a_scatter_add():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 9, (5, 11))
    w = E.Tensor(rng.standard_normal((9, 4)), requires_grad=True)
    g = rng.standard_normal((5, 11, 4))
    F.embedding(E.Tensor(ids), w).backward(g)
    expected = np.zeros((9, 4))
    np.add.at(expected, ids.reshape(-1), g.reshape(-1, 4))  # the slow, obvious scatter-add
    np.testing.assert_allclose(w.grad.data, expected, rtol=1e-12, atol=1e-12)


def test_embedding_rejects_float_and_out_of_range_ids():
    w = E.Tensor(np.zeros((4, 2)))
    with pytest.raises(RuntimeError, match="integer token ids"):
        F.embedding(E.Tensor(np.array([0.0, 1.0])), w)
    with pytest.raises(IndexError, match="out of range"):
        F.embedding(np.array([0, 4]), w)


# ---- layer norm and attention: composites -------------------------------------------------------


@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_equals_torch(affine):
    x = np.random.default_rng(1).standard_normal((2, 3, 8))
    x[0, 1] = 0.25  # a constant row: variance 0, only eps keeps it finite
    inputs = [x, (8,), (8,)] if affine else [x]

    def engine_fn(x, w=None, b=None):
        return F.layer_norm(x, 8, w, b, eps=1e-5)

    def torch_fn(x, w=None, b=None):
        return _tf().layer_norm(x, (8,), w, b, eps=1e-5)

    check_op(inputs, engine_fn, torch_fn if HAS_TORCH else None, fd_atol=1e-5)


def test_layer_norm_over_two_dimensions_equals_torch():
    check_op(
        [(2, 3, 4), (3, 4), (3, 4)],
        lambda x, w, b: F.layer_norm(x, (3, 4), w, b),
        (lambda x, w, b: _tf().layer_norm(x, (3, 4), w, b)) if HAS_TORCH else None,
    )


def test_layer_norm_checks_the_shape():
    with pytest.raises(RuntimeError, match="normalized_shape"):
        F.layer_norm(E.Tensor(np.zeros((2, 5))), 4)


def _causal_mask(L, S):
    return np.tril(np.ones((L, S), dtype=bool))


ATTENTION_CASES = {
    "causal": dict(is_causal=True),
    "no mask": dict(),
    "bool mask": dict(attn_mask=_causal_mask(5, 5) | np.eye(5, k=2, dtype=bool)),
    "float mask": dict(attn_mask=np.random.default_rng(3).standard_normal((5, 5))),
    "scale": dict(is_causal=True, scale=0.3),
}


@pytest.mark.parametrize("case", list(ATTENTION_CASES))
def test_attention_equals_torchs_scaled_dot_product_attention(case):
    kwargs = ATTENTION_CASES[case]

    def run(fn, mask_type):
        def f(q, k, v):
            kw = dict(kwargs)
            if "attn_mask" in kw:
                kw["attn_mask"] = mask_type(kw["attn_mask"])
            return fn(q, k, v, **kw)

        return f

    check_op(
        [(2, 3, 5, 4), (2, 3, 5, 4), (2, 3, 5, 6)],
        run(F.scaled_dot_product_attention, E.Tensor),
        run(_tf().scaled_dot_product_attention, torch.from_numpy) if HAS_TORCH else None,
    )


def test_causal_attention_ignores_the_future():
    rng = np.random.default_rng(4)
    q, k, v = (E.Tensor(rng.standard_normal((1, 2, 6, 3))) for _ in range(3))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True).data
    k2, v2 = k.data.copy(), v.data.copy()
    k2[..., 4:, :] += 10.0  # change the last two positions' keys and values
    v2[..., 4:, :] -= 10.0
    out2 = F.scaled_dot_product_attention(q, E.Tensor(k2), E.Tensor(v2), is_causal=True).data
    np.testing.assert_array_equal(out[..., :4, :], out2[..., :4, :])
    assert not np.allclose(out[..., 4:, :], out2[..., 4:, :])


@needs_torch
def test_torch_fused_attention_equals_the_explicit_formula():
    """Why the torch path may call F.scaled_dot_product_attention: it is the explicit
    softmax(q k^T / sqrt(d) + causal mask) v, forward and backward (float64, CPU)."""
    g = torch.Generator().manual_seed(0)
    shapes = [(2, 4, 9, 8)] * 3
    q, k, v = (torch.randn(s, generator=g, dtype=torch.float64, requires_grad=True) for s in shapes)
    w = torch.randn((2, 4, 9, 8), generator=g, dtype=torch.float64)

    def explicit(q, k, v):
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        mask = torch.ones(9, 9, dtype=torch.bool).tril()
        return scores.masked_fill(~mask, float("-inf")).softmax(-1) @ v

    fused = _tf().scaled_dot_product_attention(q, k, v, is_causal=True)
    grads_fused = torch.autograd.grad((fused * w).sum(), (q, k, v))
    plain = explicit(q, k, v)
    grads_plain = torch.autograd.grad((plain * w).sum(), (q, k, v))
    torch.testing.assert_close(fused, plain, rtol=1e-12, atol=1e-12)
    for a, b in zip(grads_fused, grads_plain):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


# ---- layers -------------------------------------------------------------------------------------


def test_embedding_and_layer_norm_layers_initialise_like_torch():
    E.manual_seed(0)
    emb = nn.Embedding(1000, 64)
    assert emb.weight.shape == (1000, 64) and emb.weight.requires_grad
    assert abs(emb.weight.data.std() - 1.0) < 0.02 and abs(emb.weight.data.mean()) < 0.02
    ln = nn.LayerNorm(8)
    assert np.all(ln.weight.data == 1) and np.all(ln.bias.data == 0)
    assert [n for n, _ in nn.LayerNorm(8, bias=False).named_parameters()] == ["weight"]
    assert list(nn.LayerNorm(8, elementwise_affine=False).parameters()) == []
    assert repr(emb) == "Embedding(1000, 64)"


@needs_torch
def test_layers_equal_torch_with_copied_weights():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 6))
    ln_e, ln_t = nn.LayerNorm(6).double(), torch.nn.LayerNorm(6).double()
    with torch.no_grad():
        ln_t.weight.copy_(torch.from_numpy(rng.standard_normal(6)))
    ln_e.load_state_dict({k: v.numpy() for k, v in ln_t.state_dict().items()})
    expected = ln_t(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(ln_e(E.Tensor(x)).data, expected, rtol=1e-12, atol=1e-12)
    emb_t = torch.nn.Embedding(7, 3).double()
    emb_e = nn.Embedding(7, 3).double()
    emb_e.load_state_dict({k: v.numpy() for k, v in emb_t.state_dict().items()})
    ids = np.array([[1, 6], [0, 1]])
    expected = emb_t(torch.from_numpy(ids)).detach().numpy()
    np.testing.assert_array_equal(emb_e(E.Tensor(ids)).data, expected)


# ---- nn.utils.clip_grad_norm_ -------------------------------------------------------------------


def _params_with_grads(make, seed=0, scale=1.0):
    """Three parameters (made by `make(array, requires_grad)`) with random gradients."""
    rng = np.random.default_rng(seed)
    params = []
    for s in [(3, 4), (4,), (2, 2, 2)]:
        p = make(rng.standard_normal(s), True)
        p.grad = make(rng.standard_normal(s) * scale, False)
        params.append(p)
    return params


@needs_torch
@pytest.mark.parametrize(
    "max_norm, norm_type", [(1.0, 2.0), (100.0, 2.0), (0.5, math.inf), (2.0, 1)]
)
def test_clip_grad_norm_equals_torch(max_norm, norm_type):
    ours = _params_with_grads(lambda a, rg: E.Tensor(a, requires_grad=rg))
    theirs = _params_with_grads(lambda a, rg: torch.tensor(a, requires_grad=rg))
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-12)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_clip_grad_norm_shrinks_to_max_norm_and_keeps_the_direction():
    params = _params_with_grads(lambda a, rg: E.Tensor(a, requires_grad=rg), scale=10.0)
    before = np.concatenate([p.grad.data.ravel() for p in params])
    total = nn.utils.clip_grad_norm_(params, 1.0).item()
    after = np.concatenate([p.grad.data.ravel() for p in params])
    assert total == pytest.approx(np.linalg.norm(before))
    assert np.linalg.norm(after) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(after * total, before, rtol=1e-5)
    nan = E.Tensor(np.ones(2), requires_grad=True)
    nan.grad = E.Tensor(np.array([np.nan, 1.0]))
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_([nan], 1.0, error_if_nonfinite=True)


# ---- the whole GPT -------------------------------------------------------------------------------

TINY = dict(vocab_size=11, n_layer=2, n_head=2, n_embd=8, block_size=6)


@pytest.mark.parametrize("bias", [True, False])
def test_gpt_is_written_once_for_both_engines(bias):
    model = gpt(nn, **TINY, bias=bias)
    names = [n for n, _ in model.named_parameters()]
    assert "lm_head.weight" not in names, "tied to wte.weight, so listed once"
    assert model.lm_head.weight is model.wte.weight
    assert "lm_head.weight" in model.state_dict()  # as in torch: both names are saved
    if HAS_TORCH:
        twin = gpt(torch.nn, **TINY, bias=bias)
        assert names == [n for n, _ in twin.named_parameters()]
        assert list(model.state_dict()) == list(twin.state_dict())
        assert count_parameters(model) == count_parameters(twin)


@needs_torch
@pytest.mark.parametrize("bias,gelu", [(True, "tanh"), (False, "tanh"), (False, "exact")])
def test_gpt_same_logits_and_gradients_as_torch_in_float64(bias, gelu):
    ours = gpt(nn, **TINY, bias=bias, gelu=gelu).double()
    twin = gpt(torch.nn, **TINY, bias=bias, gelu=gelu).double()
    assert ours.h[0].mlp.gelu.approximate == ("tanh" if gelu == "tanh" else "none")
    ours.load_state_dict({k: v.detach().numpy().copy() for k, v in twin.state_dict().items()})
    rng = np.random.default_rng(0)
    idx, y = rng.integers(0, 11, (3, 6)), rng.integers(0, 11, (3, 6))
    logits = ours(E.Tensor(idx))
    t_logits = twin(torch.from_numpy(idx))
    np.testing.assert_allclose(logits.data, t_logits.detach().numpy(), rtol=1e-8, atol=1e-12)
    F.cross_entropy(logits.reshape(-1, 11), E.Tensor(y.reshape(-1))).backward()
    _tf().cross_entropy(t_logits.reshape(-1, 11), torch.from_numpy(y.reshape(-1))).backward()
    for (name, p), (_, q) in zip(ours.named_parameters(), twin.named_parameters()):
        g, tg = p.grad.data, q.grad.numpy()
        rel = np.abs(g - tg).max() / max(np.abs(tg).max(), 1e-300)
        assert rel < 1e-8, f"{name}: relative gradient error {rel:.2e}"
    # A shorter context than block_size works too (generation starts from a short prompt).
    np.testing.assert_allclose(
        ours(E.Tensor(idx[:, :2])).data,
        twin(torch.from_numpy(idx[:, :2])).detach().numpy(),
        rtol=1e-8,
        atol=1e-12,
    )


def test_gpt_initialisation_follows_gpt2():
    E.manual_seed(0)
    model = gpt(nn, 50, n_layer=8, n_head=2, n_embd=64, block_size=32)
    proj = model.h[0].attn.c_proj.weight.data
    assert proj.std() == pytest.approx(0.02 / math.sqrt(2 * 8), rel=0.1)
    assert model.h[0].mlp.c_fc.weight.data.std() == pytest.approx(0.02, rel=0.1)
    assert np.all(model.h[0].attn.c_attn.bias.data == 0)


def test_gpt_dropout_only_in_training_mode():
    E.manual_seed(0)
    model = gpt(nn, **{**TINY, "n_embd": 16}, dropout=0.5)
    idx = E.Tensor(np.random.default_rng(0).integers(0, 11, (2, 6)))
    model.eval()
    np.testing.assert_array_equal(model(idx).data, model(idx).data)
    model.train()
    assert not np.allclose(model(idx).data, model(idx).data)


def test_gpt_rejects_bad_shapes():
    with pytest.raises(ConfigError, match="divisible"):
        gpt(nn, 10, n_head=3, n_embd=8)
    model = gpt(nn, **TINY)
    with pytest.raises(ValueError, match="block_size"):
        model(E.Tensor(np.zeros((1, 7), dtype=np.int64)))

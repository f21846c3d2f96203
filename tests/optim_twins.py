"""Twin models for optimizer tests: the same small float64 MLP on both engines, a fixed stream
of batches, and a run that steps ours and `torch.optim`'s side by side (tinygrad's test_optim:
test an optimizer by its trajectory). Used by test_engine_optim.py and test_optim.py."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradschool import engine as E
from gradschool.engine import nn


def twin_mlps(torch: Any, steps: int) -> tuple[Any, Any, list]:
    """(ours, theirs, batches): equal weights (copied from torch's init), `steps` batches."""
    torch.set_num_threads(1)  # tiny tensors: threads only add overhead on a shared machine
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(
        torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3)
    ).double()
    ours = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3)).double()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(0)
    batches = [(rng.standard_normal((8, 6)), rng.integers(0, 3, 8)) for _ in range(steps)]
    return ours, theirs, batches


def param_groups(model: Any, spec: list | None) -> list:
    """`spec` None: all parameters in one group; else a list of (layer index, options)."""
    if spec is None:
        return list(model.parameters())
    return [dict(params=list(model[i].parameters()), **opts) for i, opts in spec]


def run_twins(
    torch: Any,
    name: str,
    options: dict,
    steps: int,
    groups: list | None = None,
    reload_at: int | None = None,
) -> tuple[Any, Any]:
    """`steps` steps of optimizer `name` on both engines. After every step the losses, the
    gradients and the weights must agree to 1e-10; at `reload_at` both optimizers are rebuilt
    (with other hyper-parameters) and restored from their state dicts, and must carry on
    exactly. Returns the two optimizers."""
    ours, theirs, batches = twin_mlps(torch, steps)
    ours_cls, torch_cls = getattr(E.optim, name), getattr(torch.optim, name)
    opt = ours_cls(param_groups(ours, groups), **options)
    t_opt = torch_cls(param_groups(theirs, groups), **options)
    for step, (X, y) in enumerate(batches):
        if step == reload_at:
            state, t_state = opt.state_dict(), t_opt.state_dict()
            opt = ours_cls(param_groups(ours, groups), lr=123.0)
            opt.load_state_dict(state)
            t_opt = torch_cls(param_groups(theirs, groups), lr=123.0)
            t_opt.load_state_dict(t_state)
        opt.zero_grad()
        loss = E.nn.functional.cross_entropy(ours(E.tensor(X)), E.tensor(y))
        loss.backward()
        t_opt.zero_grad()
        t_loss = torch.nn.functional.cross_entropy(theirs(torch.from_numpy(X)), torch.from_numpy(y))
        t_loss.backward()
        np.testing.assert_allclose(loss.item(), t_loss.item(), atol=1e-10, rtol=0)
        for p, q in zip(ours.parameters(), theirs.parameters()):  # the same gradients
            np.testing.assert_allclose(p.grad.data, q.grad.numpy(), atol=1e-10, rtol=0)
        opt.step()
        t_opt.step()
        for (pname, p), q in zip(ours.named_parameters(), theirs.parameters()):
            np.testing.assert_allclose(
                p.data, q.detach().numpy(), atol=1e-10, rtol=0, err_msg=f"{pname}, step {step}"
            )
    # The weights moved: a test of nothing would pass too.
    start = dict(twin_mlps(torch, 0)[0].named_parameters())
    assert any(not np.allclose(p.data, start[n].data) for n, p in ours.named_parameters())
    return opt, t_opt

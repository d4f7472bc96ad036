"""The LSTM written out agrees with torch.nn.LSTM: outputs, states and gradients."""

from __future__ import annotations

import pytest
import torch

import lstmcast as lc

SHAPES = [  # (input_size, hidden_size, num_layers, batch, time)
    (1, 1, 1, 1, 1),
    (1, 50, 1, 32, 20),
    (3, 7, 2, 4, 9),
    (5, 16, 3, 2, 13),
]


def twins(
    input_size: int, hidden: int, layers: int, seed: int, dtype: torch.dtype = torch.float32
) -> tuple[lc.LSTM, torch.nn.LSTM]:
    torch.manual_seed(seed)
    ours = lc.LSTM(input_size, hidden, layers).to(dtype)
    # Twice torch's init range: gates that saturate sometimes, biases that matter.
    with torch.no_grad():
        for p in ours.parameters():
            p.uniform_(-2 / hidden**0.5, 2 / hidden**0.5)
    reference = torch.nn.LSTM(input_size, hidden, layers, batch_first=True).to(dtype)
    reference.load_state_dict(ours.state_dict())
    return ours, reference


def test_parameters_are_named_and_shaped_like_torch() -> None:
    ours = lc.LSTM(3, 8, num_layers=2)
    reference = torch.nn.LSTM(3, 8, num_layers=2, batch_first=True)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in reference.state_dict().items()
    }
    assert ours.weight_ih_l0.shape == (32, 3)
    assert ours.weight_hh_l1.shape == (32, 8)
    assert ours.weight_ih_l1.shape == (32, 8)
    # ...and load both ways.
    reference.load_state_dict(ours.state_dict())
    ours.load_state_dict(torch.nn.LSTM(3, 8, 2, batch_first=True).state_dict())


@pytest.mark.parametrize(("input_size", "hidden", "layers", "batch", "steps"), SHAPES)
def test_fused_and_step_by_step_match_torch(
    input_size: int, hidden: int, layers: int, batch: int, steps: int
) -> None:
    ours, reference = twins(input_size, hidden, layers, seed=hidden)
    x = torch.randn(batch, steps, input_size)
    h0 = torch.randn(layers, batch, hidden)
    c0 = torch.randn(layers, batch, hidden)
    for state in (None, (h0, c0)):
        expected, (h_n, c_n) = reference(x, state)
        fused, (fused_h, fused_c) = ours(x, state)
        trace = ours.trace(x, state)
        for shape_of in ("input", "forget", "candidate", "output", "cell", "hidden"):
            assert getattr(trace, shape_of).shape == (layers, batch, steps, hidden)
        torch.testing.assert_close(fused, expected, atol=1e-5, rtol=0)
        torch.testing.assert_close(trace.hidden[-1], expected, atol=1e-5, rtol=0)
        torch.testing.assert_close(trace.hidden[:, :, -1], h_n, atol=1e-5, rtol=0)
        torch.testing.assert_close(trace.cell[:, :, -1], c_n, atol=1e-5, rtol=0)
        torch.testing.assert_close(fused_h, h_n, atol=1e-5, rtol=0)
        torch.testing.assert_close(fused_c, c_n, atol=1e-5, rtol=0)


def test_float64_agrees_to_rounding() -> None:
    """In double precision the two paths differ only by rounding: the equations are the same."""
    ours, reference = twins(3, 16, 2, seed=5, dtype=torch.float64)
    x = torch.randn(4, 30, 3, dtype=torch.float64)
    torch.testing.assert_close(ours.trace(x).hidden[-1], reference(x)[0], atol=1e-12, rtol=0)


@pytest.mark.parametrize(("input_size", "hidden", "layers", "batch", "steps"), SHAPES[1:])
def test_gradients_through_trace_match_fused(
    input_size: int, hidden: int, layers: int, batch: int, steps: int
) -> None:
    ours, _ = twins(input_size, hidden, layers, seed=1)
    x = torch.randn(batch, steps, input_size, requires_grad=True)
    target = torch.randn(batch, steps, hidden)

    def grads(run: str) -> list[torch.Tensor]:
        ours.zero_grad()
        x.grad = None
        out = ours(x)[0] if run == "fused" else ours.trace(x).hidden[-1]
        ((out - target) ** 2).mean().backward()
        return [x.grad.clone()] + [p.grad.clone() for p in ours.parameters()]

    for fused, stepped in zip(grads("fused"), grads("trace"), strict=True):
        torch.testing.assert_close(stepped, fused, atol=1e-4, rtol=0)


def test_gates_obey_the_equations() -> None:
    """Recompute one step by hand from the documented equations."""
    ours, _ = twins(2, 4, 1, seed=3)
    x = torch.randn(1, 2, 2)
    trace = ours.trace(x)
    W_ih, W_hh = ours.weight_ih_l0, ours.weight_hh_l0
    b = ours.bias_ih_l0 + ours.bias_hh_l0
    h1, c1 = trace.hidden[0, 0, 0], trace.cell[0, 0, 0]
    z = W_ih @ x[0, 1] + W_hh @ h1 + b
    i, f, g, o = z.sigmoid()[:4], z.sigmoid()[4:8], z.tanh()[8:12], z.sigmoid()[12:]
    c2 = f * c1 + i * g
    h2 = o * torch.tanh(c2)
    with torch.no_grad():
        torch.testing.assert_close(trace.forget[0, 0, 1], f)
        torch.testing.assert_close(trace.input[0, 0, 1], i)
        torch.testing.assert_close(trace.candidate[0, 0, 1], g)
        torch.testing.assert_close(trace.output[0, 0, 1], o)
        torch.testing.assert_close(trace.cell[0, 0, 1], c2)
        torch.testing.assert_close(trace.hidden[0, 0, 1], h2)
    gates = trace.detach()
    assert ((gates.forget >= 0) & (gates.forget <= 1)).all()
    assert ((gates.candidate >= -1) & (gates.candidate <= 1)).all()


def test_select_keeps_the_batch_axis() -> None:
    ours, _ = twins(1, 3, 2, seed=0)
    trace = ours.trace(torch.randn(5, 4, 1))
    assert trace.select(2).cell.shape == (2, 1, 4, 3)
    assert trace.select(slice(1, 3)).hidden.shape == (2, 2, 4, 3)


@pytest.mark.parametrize("layers", [1, 2])
def test_fan_out_is_one_fused_step_per_pair(layers: int) -> None:
    """Each row stepping once per shared input, beside its own input: the same values and
    gradients as torch's fused LSTM run for one step on every (row, input) pair."""
    torch.manual_seed(0)
    lstm = lc.LSTM(5, 6, num_layers=layers).double()
    h = torch.randn(layers, 3, 6, dtype=torch.float64)
    c = torch.randn(layers, 3, 6, dtype=torch.float64)
    shared = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)  # 4 inputs, 3 features
    own = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)  # per row, 2 features
    fanned = lstm.fan_out((h, c), shared, own)
    assert fanned.shape == (3, 4, 6)
    pairs = torch.cat(
        [shared[None].expand(3, -1, -1), own[:, None].expand(-1, 4, -1)], dim=-1
    ).reshape(12, 1, 5)  # row-major: row b's 4 inputs together
    start = (h.repeat_interleave(4, dim=1), c.repeat_interleave(4, dim=1))
    fused, _ = lstm(pairs, start)
    torch.testing.assert_close(fanned, fused.reshape(3, 4, 6), atol=1e-12, rtol=0)
    weights = [*lstm.parameters(), shared, own]
    mine = torch.autograd.grad(fanned.sin().sum(), weights)
    theirs = torch.autograd.grad(fused.sin().sum(), weights)
    for a, b in zip(mine, theirs, strict=True):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)

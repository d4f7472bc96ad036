"""The fused LSTM kernel agrees with torch.nn.LSTM (values and gradients), and without a compiler
lstmcast keeps torch's kernel.

Tests that run the kernel need a C++ compiler (they build it once per machine, about 20 s, into
the user's cache) and are skipped without one; the fallback is tested everywhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import lstmcast as lc
from lstmcast import fused_lstm

needs_compiler = pytest.mark.skipif(
    fused_lstm.compiler() is None, reason="no C++ compiler: the fused kernel cannot be built"
)


def twins(input_size: int, hidden: int, layers: int, dropout: float = 0.0) -> lc.LSTM:
    torch.manual_seed(hidden)
    lstm = lc.LSTM(input_size, hidden, layers, dropout)
    with torch.no_grad():  # twice torch's init range: gates that saturate sometimes
        for p in lstm.parameters():
            p.uniform_(-2 / hidden**0.5, 2 / hidden**0.5)
    return lstm


def outputs_and_gradients(
    lstm: lc.LSTM, kernel: str, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None
) -> list[torch.Tensor]:
    """Output, last states and the gradients of a loss over all three (every parameter, x and
    the initial states)."""
    lstm.kernel = kernel
    leaves = [x, *lstm.parameters(), *(state or ())]
    for leaf in leaves:
        leaf.grad = None
    torch.manual_seed(0)  # the same dropout masks in both kernels
    output, (h_n, c_n) = lstm(x, state)
    (output.pow(2).sum() + h_n.sin().sum() + c_n.cos().sum()).backward()
    assert all(leaf.grad is not None for leaf in leaves)
    return [output, h_n, c_n, *(leaf.grad for leaf in leaves)]  # type: ignore[misc]


@needs_compiler
@pytest.mark.parametrize(
    ("input_size", "hidden", "layers", "batch", "steps", "dropout", "with_state"),
    [
        (1, 1, 1, 1, 1, 0.0, False),
        (1, 32, 2, 8, 24, 0.0, False),
        (3, 7, 2, 4, 9, 0.0, True),
        (5, 16, 3, 2, 13, 0.0, True),
        (4, 16, 3, 6, 11, 0.3, True),  # dropout between layers, training mode
    ],
)
@pytest.mark.parametrize("mkl", [False, True])
def test_values_and_gradients_match_torch(
    input_size: int,
    hidden: int,
    layers: int,
    batch: int,
    steps: int,
    dropout: float,
    with_state: bool,
    mkl: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through oneDNN (whole batch per step) and through MKL (rows split over the threads),
    whichever this machine would choose."""
    monkeypatch.setattr(fused_lstm, "FLOAT32_MKL", mkl)
    lstm = twins(input_size, hidden, layers, dropout).train()
    x = torch.randn(batch, steps, input_size, requires_grad=True)
    state = None
    if with_state:
        state = (
            torch.randn(layers, batch, hidden, requires_grad=True),
            torch.randn(layers, batch, hidden, requires_grad=True),
        )
    expected = outputs_and_gradients(lstm, "stock", x, state)
    fused = outputs_and_gradients(lstm, "fused", x, state)
    for got, want in zip(fused, expected, strict=True):
        assert got.shape == want.shape
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


@needs_compiler
@pytest.mark.parametrize("chunk", [1, 3, 4])
def test_chunked_products_match_torch(chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through oneDNN, input products and x's gradient one chunk of steps at a time (11 steps: a
    short last chunk), with the input needing a gradient and without (the first layer's usual
    case)."""
    monkeypatch.setattr(fused_lstm, "CHUNK_STEPS", chunk)
    monkeypatch.setattr(fused_lstm, "FLOAT32_MKL", False)
    lstm = twins(3, 8, 2).train()
    x = torch.randn(5, 11, 3, requires_grad=True)
    expected = outputs_and_gradients(lstm, "stock", x, None)
    for got, want in zip(outputs_and_gradients(lstm, "fused", x, None), expected, strict=True):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    x.requires_grad_(False)
    lstm.kernel = "fused"
    lstm.zero_grad(set_to_none=True)
    lstm(x)[0].pow(2).sum().backward()
    fused_grads = [p.grad.clone() for p in lstm.parameters()]
    lstm.kernel = "stock"
    lstm.zero_grad(set_to_none=True)
    lstm(x)[0].pow(2).sum().backward()
    for got, parameter in zip(fused_grads, lstm.parameters(), strict=True):
        torch.testing.assert_close(got, parameter.grad, atol=1e-5, rtol=1e-5)


@needs_compiler
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_rows_split_over_threads_match_torch(threads: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through MKL each thread runs its own rows through every step and sums its share of the
    weight gradients: with one, two and three threads (37 rows: uneven shares), training and
    forecasting give torch's values and gradients."""
    monkeypatch.setattr(fused_lstm, "FLOAT32_MKL", True)
    lstm = twins(3, 16, 2).train()
    x = torch.randn(37, 10, 3, requires_grad=True)
    state = (torch.randn(2, 37, 16).requires_grad_(), torch.randn(2, 37, 16).requires_grad_())
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(threads)
        expected = outputs_and_gradients(lstm, "stock", x, state)
        fused = outputs_and_gradients(lstm, "fused", x, state)
        with torch.no_grad():
            forecast = lstm(x, state)
            lstm.kernel = "stock"
            forecast_expected = lstm(x, state)
    finally:
        torch.set_num_threads(before)
    for got, want in zip(fused, expected, strict=True):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(forecast, forecast_expected, atol=1e-5, rtol=1e-5)


@needs_compiler
@pytest.mark.parametrize("mkl", [False, True])
def test_a_loss_on_the_last_state_alone_matches_torch(
    mkl: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No gradient reaches the outputs (a head on h_n, as W2's): the kernel reads zeros for
    them, and the gradients are torch's."""
    monkeypatch.setattr(fused_lstm, "FLOAT32_MKL", mkl)
    lstm = twins(2, 8, 2).train()
    x = torch.randn(6, 9, 2, requires_grad=True)
    grads = {}
    for kernel in ("stock", "fused"):
        lstm.kernel = kernel
        x.grad = None
        lstm.zero_grad(set_to_none=True)
        lstm(x)[1][0][-1].sin().sum().backward()
        grads[kernel] = [x.grad.clone(), *(p.grad.clone() for p in lstm.parameters())]
    for got, want in zip(grads["fused"], grads["stock"], strict=True):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


@needs_compiler
@pytest.mark.parametrize("chunk", [0, 5])
def test_bf16_products_stay_close_and_keep_float32_states(
    chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fused_lstm, "CHUNK_STEPS", chunk)  # 0: the kernel's own (one chunk)
    lstm = twins(3, 16, 2)
    x = torch.randn(8, 12, 3, requires_grad=True)
    expected = outputs_and_gradients(lstm, "stock", x, None)
    lstm.low_precision = True
    low = outputs_and_gradients(lstm, "fused", x, None)
    for got, want in zip(low, expected, strict=True):
        assert got.dtype == torch.float32
        torch.testing.assert_close(got, want, atol=0.05, rtol=0.05)
    # bfloat16 rounding shows: these are not float32 products.
    assert (low[0] - expected[0]).abs().max() > 1e-5
    # Without the fused kernel, bfloat16 products are not available: float32 exactly.
    lstm.kernel = "stock"
    torch.testing.assert_close(lstm(x)[0], expected[0], atol=0, rtol=0)


def test_float32_products_go_to_mkl_except_at_avx512_on_other_vendors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cases = [
        ("AVX2", "AuthenticAMD", True),
        ("DEFAULT", "", True),
        ("AVX512", "AuthenticAMD", False),
        ("AVX512", "", False),  # no /proc/cpuinfo: oneDNN, as before vendors were told apart
        ("AVX2", "GenuineIntel", True),
        ("AVX512", "GenuineIntel", True),
    ]
    for level, vendor, mkl in cases:
        monkeypatch.setattr(fused_lstm, "_capability", lambda level=level: level)
        monkeypatch.setattr(fused_lstm, "cpu_field", lambda name, vendor=vendor: vendor)
        assert fused_lstm.float32_mkl() is mkl, (level, vendor)
    monkeypatch.setattr(fused_lstm, "FLOAT32_MKL", True)
    assert fused_lstm.float32_mkl()  # a setting wins over the CPU


@needs_compiler
def test_auto_picks_the_fused_kernel_for_training_steps_big_enough(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fused_lstm, "FLOAT32_MKL", False)  # products through oneDNN
    lstm = lc.LSTM(1, 64, 1)
    steps = fused_lstm.MIN_FLOAT32_STEPS
    small, big = torch.randn(4, steps, 1), torch.randn(fused_lstm.MIN_UNITS // 64, steps, 1)
    short = big[:, :2]
    assert fused_lstm.choose_kernel("auto", big, 64, low_precision=False, training=True)
    assert not fused_lstm.choose_kernel("auto", small, 64, low_precision=False, training=True)
    # Over a few steps only bfloat16 products make the fused kernel worth it.
    assert not fused_lstm.choose_kernel("auto", short, 64, low_precision=False, training=True)
    assert fused_lstm.choose_kernel("auto", short, 64, low_precision=True, training=True)
    # Forecasting in float32: torch's kernel is as fast.
    assert not fused_lstm.choose_kernel("auto", big, 64, low_precision=False, training=False)
    with torch.no_grad():
        assert not fused_lstm.choose_kernel("auto", big, 64, low_precision=False, training=True)
        assert fused_lstm.choose_kernel("auto", big, 64, low_precision=True, training=False)
    assert not fused_lstm.choose_kernel("auto", big.double(), 64, False, training=True)
    assert not fused_lstm.choose_kernel("stock", big, 64, low_precision=True, training=True)
    with pytest.raises(lc.ConfigError, match=r"float32, not torch\.float64"):
        fused_lstm.choose_kernel("fused", big.double(), 64, low_precision=False, training=True)
    lstm(big)  # runs
    # Through MKL the fused kernel is faster at any length, forecasting too; still not for
    # small steps.
    monkeypatch.setattr(fused_lstm, "FLOAT32_MKL", True)
    assert fused_lstm.choose_kernel("auto", short, 64, low_precision=False, training=True)
    assert fused_lstm.choose_kernel("auto", short, 64, low_precision=False, training=False)
    with torch.no_grad():
        assert fused_lstm.choose_kernel("auto", big, 64, low_precision=False, training=True)
    assert not fused_lstm.choose_kernel("auto", small, 64, low_precision=False, training=False)
    # bfloat16 products exist only in the fused kernel: any step takes it, however small.
    assert fused_lstm.choose_kernel("auto", small[:1], 64, low_precision=True, training=False)


def test_without_a_compiler_torch_kernel_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No compiler (and nothing built): "auto" uses torch's kernel, same results; asking for the
    fused one is a clear error."""
    monkeypatch.setenv("LSTMCAST_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(fused_lstm, "compiler", lambda: None)
    monkeypatch.setattr(fused_lstm, "_loaded", None)
    monkeypatch.setattr(fused_lstm, "_failure", "")
    lstm = twins(1, 64, 2).train()
    x = torch.randn(fused_lstm.MIN_UNITS // 64, fused_lstm.MIN_FLOAT32_STEPS, 1, requires_grad=True)
    auto = outputs_and_gradients(lstm, "auto", x, None)
    assert not fused_lstm.load()
    assert "no C++ compiler" in fused_lstm.unavailable_reason()
    stock = outputs_and_gradients(lstm, "stock", x, None)
    for got, want in zip(auto, stock, strict=True):
        torch.testing.assert_close(got, want, atol=0, rtol=0)
    lstm.kernel = "fused"
    with pytest.raises(lc.ConfigError, match="fused LSTM kernel cannot be used: no C\\+\\+"):
        lstm(x)
    assert not list(tmp_path.iterdir())  # nothing half-built left behind


def test_a_failed_build_is_reported_and_leaves_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LSTMCAST_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(fused_lstm, "compiler", lambda: "false")  # exits 1, prints nothing
    with pytest.raises(RuntimeError, match="false failed"):
        fused_lstm.build()
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_an_unknown_kernel_is_refused() -> None:
    lstm = lc.LSTM(1, 4)
    lstm.kernel = "fast"
    with pytest.raises(lc.ConfigError, match="auto, fused, stock; got 'fast'"):
        lstm(torch.randn(2, 3, 1))


def test_the_cache_file_names_the_cpu_level(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache shared between machines never hands one CPU code built for another's vector
    units: the level torch detected is in the file's name (and its flags in the key)."""
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    avx2 = fused_lstm.library_path()
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    avx512 = fused_lstm.library_path()
    assert "avx2" in avx2.name
    assert "avx512" in avx512.name


@needs_compiler
def test_bf16_gradients_agree_across_threads() -> None:
    """With bfloat16 products each thread sums its rows' bias gradient: two threads and one
    give the same gradients (to bfloat16's rounding), and both stay near float32's."""
    lstm = twins(3, 32, 2)
    x = torch.randn(96, 20, 3)
    threads = torch.get_num_threads()

    def gradients(kernel: str, low: bool, count: int) -> list[torch.Tensor]:
        torch.set_num_threads(count)
        lstm.kernel, lstm.low_precision = kernel, low
        lstm.zero_grad(set_to_none=True)
        lstm(x)[0].pow(2).sum().backward()
        return [p.grad.clone() for p in lstm.parameters()]

    try:
        exact = gradients("stock", False, 1)
        one, two = gradients("fused", True, 1), gradients("fused", True, 2)
    finally:
        torch.set_num_threads(threads)
    for single, double, want in zip(one, two, exact, strict=True):
        torch.testing.assert_close(double, single, atol=1e-3, rtol=1e-2)
        assert (single - want).norm() <= 0.02 * want.norm()


@needs_compiler
@pytest.mark.parametrize(("low", "mkl"), [(False, False), (False, True), (True, False)])
def test_an_empty_batch_runs_like_torch(
    low: bool, mkl: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No rows (oneDNN refuses empty products): empty outputs, zero gradients, as torch's."""
    monkeypatch.setattr(fused_lstm, "FLOAT32_MKL", mkl)
    lstm = twins(3, 8, 2)
    x = torch.randn(0, 5, 3, requires_grad=True)
    lstm.kernel, lstm.low_precision = "fused", low
    output, (h_n, c_n) = lstm(x)
    output.sum().backward()
    assert output.shape == (0, 5, 8)
    assert h_n.shape == c_n.shape == (2, 0, 8)
    assert x.grad is not None
    assert x.grad.shape == x.shape
    assert all(p.grad is not None and not p.grad.any() for p in lstm.parameters())

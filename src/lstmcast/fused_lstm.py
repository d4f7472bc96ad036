"""The fused LSTM kernel: each time step's element-wise work in one pass, built once per machine.

torch's CPU LSTM kernel (oneDNN) spends more than half of a training step outside its matrix
products, in element-wise passes over the gates; a hand-written autograd LSTM in tensor ops was
slower still (about twenty kernels per step). ``fused_lstm.cpp`` walks the time steps of one
layer in C++, forward and backward, the gates, cell and hidden update (and their gradients) one
loop per row, the matrix products one of two ways (:data:`FLOAT32_MKL`):

- through oneDNN (and every bfloat16 product): the recurrent products per step on the whole
  batch, the input products (and in the backward pass x's gradient and, in bfloat16, the weight
  gradients) one per chunk of steps (about 8 MiB of gates: one product over the whole sequence
  needs a buffer that the kernel maps afresh every batch, and its page faults cost more than the
  larger product saves; benchmarks/RESULTS.md);
- in float32 through MKL: each thread takes its own rows of the batch through every step, every
  product on those rows alone, so the threads meet once per layer rather than twice per step.

:func:`run` wraps it in an autograd function with the same parameters as
:class:`lstmcast.lstm.LSTM`.

Why a C++ extension rather than ``torch.compile``: compiling is paid in every process (tens of
seconds of tracing even with inductor's on-disk cache) and imports torch's compiler stack
(``torch._dynamo``, about 1 s), which a whole-process job like the tutorial cannot afford; the
extension is compiled once per machine (about 20 s with g++) into a cache directory and then
loaded in milliseconds. Without a C++ compiler (or when building fails) lstmcast keeps torch's
kernel: same results, the old speed.

Which kernel runs is :func:`choose_kernel`'s call, overridable with ``LSTM.kernel`` (and the
``LSTMCAST_LSTM_KERNEL`` environment variable): "auto", "fused" or "stock".
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import torch

from .errors import ConfigError
from .precision import cpu_field

log = logging.getLogger(__name__)

KERNELS = ("auto", "fused", "stock")
SOURCE = Path(__file__).with_name("fused_lstm.cpp")
# When "auto" runs the fused kernel (benchmarks/kernel.py, benchmarks/RESULTS.md): from this many
# (batch x hidden) units per step (below, its per-step overhead through oneDNN makes it up to 2x
# slower than torch's, and a first use would build it: the tutorial's LSTM(50) on batches of 32
# is 1,600). In float32 through oneDNN only for training over this many steps (over 8-24 steps it
# ran from 0.9x to 1.6x torch's on a busy AVX-512 machine, over 96 at 1.4-1.7x); through MKL
# (rows split over the threads) at any length, training or forecasting (on an AVX2-only AMD
# EPYC, 1.1-2.5x torch's training and 1.1-1.9x its forecast over 1-16 steps at 16,384-65,536
# units, 1.9-2.1x a W2 training step).
MIN_UNITS = 16384
MIN_FLOAT32_STEPS = 32
# Steps per chunk of the kernel's input products and weight gradients; 0 lets the kernel choose
# (about 8 MiB of gates per chunk). Tests set it small to run the chunk boundaries.
CHUNK_STEPS = 0
# Whether the float32 matrix products go to MKL (at::mm), each thread multiplying its own rows
# of the batch, rather than to oneDNN on the whole batch. None: by the CPU, MKL unless torch
# runs at its AVX-512 level on a CPU not made by Intel. Measured (benchmarks/RESULTS.md): on AMD
# EPYC with AVX2 only, a W2 training step ran 1.4x faster the MKL way; on AMD EPYC with AVX-512,
# MKL's products ran at a third of oneDNN's rate (MKL takes slower paths on other vendors'
# CPUs); on an Intel Xeon with AVX-512, the MKL way ran 1.5x faster again (157 against 242 ms).
# Benchmarks and tests set it.
FLOAT32_MKL: bool | None = None
# The vector instructions each of torch's CPU capability levels guarantees: the extension is
# compiled for the level torch itself detected, so a cache shared between machines never loads
# code a CPU cannot run (the level is part of the file name).
_ARCH_FLAGS = {
    "DEFAULT": [],
    "AVX2": ["-mavx2", "-mfma"],
    "AVX512": ["-mavx2", "-mfma", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq"],
}

# -fno-trapping-math lets the compiler vectorise the float-to-int step of the exponential (no
# result changes; nothing here enables floating-point traps).
_FLAGS = ["-shared", "-fPIC", "-std=c++20", "-O3", "-fopenmp", "-fno-trapping-math"]

_lock = threading.Lock()
_loaded: bool | None = None  # None: not tried yet in this process
_failure = ""  # why the extension is unavailable, when it is


def cache_dir() -> Path:
    """Where built kernels are kept: ``$LSTMCAST_CACHE_DIR``, else ``~/.cache/lstmcast``."""
    given = os.environ.get("LSTMCAST_CACHE_DIR")
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lstmcast"


def compiler() -> str | None:
    """The C++ compiler to build with: ``$CXX``, else ``c++`` or ``g++`` on the PATH."""
    for name in (os.environ.get("CXX"), "c++", "g++"):
        if name and shutil.which(name):
            return name
    return None


def _capability() -> str:
    level = torch.backends.cpu.get_cpu_capability()
    return level if level in _ARCH_FLAGS else "DEFAULT"


def _command(cxx: str, output: Path) -> list[str]:
    root = Path(torch.__file__).parent
    abi = int(torch._C._GLIBCXX_USE_CXX11_ABI)
    return [
        cxx, str(SOURCE), "-o", str(output), *_FLAGS, *_ARCH_FLAGS[_capability()],
        f"-D_GLIBCXX_USE_CXX11_ABI={abi}",
        f"-I{root / 'include'}", f"-L{root / 'lib'}", f"-Wl,-rpath,{root / 'lib'}",
        "-lc10", "-ltorch_cpu",
    ]  # fmt: skip


def library_path() -> Path:
    """The built kernel's file for this source, torch, Python and CPU level (built or not)."""
    key = hashlib.sha256(SOURCE.read_bytes())
    key.update(f"{torch.__version__} {sys.version_info[:2]} {_capability()} {_FLAGS}".encode())
    return cache_dir() / f"fused_lstm-{_capability().lower()}-{key.hexdigest()[:16]}.so"


def build() -> Path:
    """Compile the kernel into the cache (once per machine) and return its file.

    Raises RuntimeError when there is no compiler or compiling fails.
    """
    target = library_path()
    if target.exists():
        return target
    cxx = compiler()
    if cxx is None:
        raise RuntimeError("no C++ compiler found (set CXX, or install g++)")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Compiled beside its final name and renamed: processes building at once never load half
    # a file, and the last rename wins with an identical one.
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        built = Path(scratch) / target.name
        log.info("building the fused LSTM kernel into %s (once per machine)", target)
        done = subprocess.run(_command(cxx, built), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            errors = [line for line in done.stderr.splitlines() if "error" in line]
            raise RuntimeError(f"{cxx} failed: {' '.join(errors[:3]) or done.stderr[-500:]}")
        os.replace(built, target)
    return target


def load() -> bool:
    """Whether the fused kernel is usable in this process, building it on first need."""
    global _loaded, _failure
    with _lock:
        if _loaded is None:
            try:
                torch.ops.load_library(str(build()))
                _loaded = True
            except (RuntimeError, OSError) as error:
                _loaded, _failure = False, str(error)
                log.info("fused LSTM kernel unavailable, using torch's: %s", error)
        return _loaded


def unavailable_reason() -> str:
    """Why :func:`load` returned False ("" when it did not)."""
    return _failure


def float32_mkl() -> bool:
    """Whether this machine's float32 products go to MKL (see :data:`FLOAT32_MKL`)."""
    if FLOAT32_MKL is not None:
        return FLOAT32_MKL
    return _capability() != "AVX512" or cpu_field("vendor_id") == "GenuineIntel"


def small_step(batch_size: int, hidden_size: int) -> bool:
    """Whether a training step of ``batch_size`` rows of ``hidden_size`` units is below
    :data:`MIN_UNITS`, where torch's float32 kernel is faster than the fused one."""
    return batch_size * hidden_size < MIN_UNITS


def check_kernel(kernel: str) -> None:
    if kernel not in KERNELS:
        raise ConfigError(f"LSTM kernel must be one of {', '.join(KERNELS)}; got {kernel!r}")


def choose_kernel(
    kernel: str, x: torch.Tensor, hidden_size: int, low_precision: bool, training: bool
) -> bool:
    """Whether to run the fused kernel on ``x`` (batch, time, features).

    "stock": never; "fused": always on the CPU (an error when it cannot be built, or for other
    dtypes than float32); "auto": for float32 on the CPU when no exporter or compiler is tracing
    the network (they need torch's own LSTM operator), where float32 products go to MKL
    (:func:`float32_mkl`) always, else for training (through oneDNN the fused forward alone is
    only as fast as torch's: the gain is in the backward) over at least
    :data:`MIN_FLOAT32_STEPS` steps, when the step is big enough (:data:`MIN_UNITS`) to be
    faster (and pay for a first build); and for bfloat16 products (which torch's kernel lacks)
    at any size, so that a series' forecast does not depend on how many others share its batch.
    """
    check_kernel(kernel)
    if kernel == "stock" or x.device.type != "cpu":
        return False
    if kernel == "fused":
        if x.dtype != torch.float32:
            raise ConfigError(f"the fused LSTM kernel computes in float32, not {x.dtype}")
        if not load():
            raise ConfigError(f"the fused LSTM kernel cannot be used: {_failure}")
        return True
    tracing = torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()
    compiling = torch.compiler.is_compiling() or torch.compiler.is_exporting()
    if tracing or compiling or x.dtype != torch.float32:
        return False
    if low_precision:
        return load()
    long_training = training and torch.is_grad_enabled() and x.shape[1] >= MIN_FLOAT32_STEPS
    if not (float32_mkl() or long_training):
        return False
    if small_step(x.shape[0], hidden_size):
        return False
    return load()


class _Layer(torch.autograd.Function):
    """One layer over every step: (x (B, T, in), w_ih (4H, in), bias (4H,) = b_ih + b_hh,
    w_hh (4H, H), h0, c0 (B, H), low, grad_enabled) -> (output (B, T, H), h_n, c_n (B, H)), all
    float32; ``low``: the products in bfloat16; ``grad_enabled``: the caller's grad mode (without
    it nothing is kept for a backward pass)."""

    @staticmethod
    def forward(ctx, x, w_ih, bias, w_hh, h0, c0, low, grad_enabled):  # type: ignore[override]
        # needs_input_grad says which inputs require a gradient even under torch.no_grad(), and
        # forward() itself always runs without grad: whether one will be taken is asked before.
        keep = grad_enabled and any(ctx.needs_input_grad)
        mkl = float32_mkl()
        out, gates, cells, hiddens, x_steps = torch.ops.lstmcast.layer_forward(
            x, w_ih, bias, w_hh, h0, c0, keep, low, CHUNK_STEPS, mkl
        )
        if keep:  # x as the kernel reads it: time-major, in the products' precision
            ctx.save_for_backward(x_steps, w_ih, w_hh, *gates, *cells, *hiddens)
            ctx.low, ctx.steps, ctx.chunk = low, x.shape[1], CHUNK_STEPS
            ctx.mkl = mkl
        return out, out[:, -1].clone(), cells[-1]

    @staticmethod
    def backward(ctx, grad_out, grad_h_last, grad_c_last):  # type: ignore[override]
        x_steps, w_ih, w_hh, *saved = ctx.saved_tensors
        steps = ctx.steps
        gates, cells, hiddens = saved[:steps], saved[steps : 2 * steps + 1], saved[2 * steps + 1 :]
        batch, hidden = x_steps.shape[1], w_hh.shape[1]
        zeros = w_hh.new_zeros(batch, hidden)
        if grad_out is None:  # one row of zeros read for every (row, step): nothing to fill
            grad_out = w_hh.new_zeros(1, 1, hidden).expand(batch, steps, hidden)
        grads = torch.ops.lstmcast.layer_backward(
            grad_out,
            zeros if grad_h_last is None else grad_h_last,
            zeros if grad_c_last is None else grad_c_last,
            gates, cells, hiddens, x_steps, w_ih, w_hh, ctx.low, ctx.needs_input_grad[0],
            ctx.chunk, ctx.mkl,
        )  # fmt: skip
        grad_x = grads[0] if ctx.needs_input_grad[0] else None
        return (grad_x, *grads[1:], None, None)


def _dropout_mask(output: torch.Tensor, p: float) -> torch.Tensor:
    """Dropout's scaled keep-mask for a layer's ``output`` (B, T, H), drawn in the order torch's
    LSTM draws it (time-major): the same seed drops the same units in both kernels."""
    batch, steps, hidden = output.shape
    mask = output.new_empty(steps, batch, hidden).bernoulli_(1 - p).div_(1 - p)
    return mask.transpose(0, 1)


def run(
    lstm: torch.nn.LSTM,
    x: torch.Tensor,
    state: tuple[torch.Tensor, torch.Tensor] | None,
    low_precision: bool = False,
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """``lstm``'s forward (batch-first) through the fused kernel: output (B, T, H) and
    (h_n, c_n), each (num_layers, B, H). ``low_precision``: matrix products in bfloat16 (weights
    kept float32, cast per call), cell state and element-wise work float32."""
    if not load():
        raise ConfigError(f"the fused LSTM kernel cannot be used: {_failure}")
    batch = x.shape[0]
    H = lstm.hidden_size
    if state is None:
        zeros = x.new_zeros(lstm.num_layers, batch, H, dtype=torch.float32)
        state = (zeros, zeros)
    layer_input = x.float()
    last_h, last_c = [], []
    for k in range(lstm.num_layers):
        w_ih = getattr(lstm, f"weight_ih_l{k}")
        w_hh = getattr(lstm, f"weight_hh_l{k}")
        bias = getattr(lstm, f"bias_ih_l{k}") + getattr(lstm, f"bias_hh_l{k}")
        h0, c0 = state[0][k].float(), state[1][k].float()
        output, h_n, c_n = _Layer.apply(
            layer_input, w_ih, bias, w_hh, h0, c0, low_precision, torch.is_grad_enabled()
        )
        last_h.append(h_n)
        last_c.append(c_n)
        layer_input = output
        if lstm.training and lstm.dropout > 0 and k < lstm.num_layers - 1:
            layer_input = layer_input * _dropout_mask(layer_input, lstm.dropout)
    return layer_input, (torch.stack(last_h), torch.stack(last_c))

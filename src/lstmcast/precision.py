"""Which number format the LSTM's matrix products use: float32, or bfloat16 where it is native.

``precision="bf16"`` runs the LSTM's matrix products (input and recurrent parts of every gate,
forward and backward) in bfloat16, through the fused kernel (:mod:`lstmcast.fused_lstm`; the
segments decoder's step, written out in ``LSTM.fan_out``, stays float32); the
weights stay float32 (cast for each batch), and so do the cell state, every element-wise step,
the segment embedding, the heads and the forecast. Not ``torch.autocast``: under autocast
torch's CPU LSTM runs wholly in bfloat16, cell state included, and the heads' outputs, the
forecasts themselves, would be rounded to bfloat16's 8 significant bits.

bfloat16 is only faster where the hardware has it (AVX512_BF16 or AMX on x86 CPUs, compute
capability 8 on NVIDIA GPUs); elsewhere it is emulated and many times slower. The products in
bfloat16 are lstmcast's CPU kernel's: on a GPU (torch's cuDNN kernel) there are none yet. So:

- ``"fp32"``: float32 everywhere.
- ``"bf16"``: bfloat16 products; training on a GPU or a CPU without native bfloat16 is refused
  (:class:`ConfigError`), forecasting there falls back to float32 (the weights are float32).
- ``"auto"`` (default): bfloat16 on CPUs where it is native and :data:`AUTO_BF16` says the
  accuracy check held (benchmarks/RESULTS.md), for networks whose training step is big enough
  for the fused kernel to be faster (``batch_size x hidden_size`` of at least
  :data:`lstmcast.fused_lstm.MIN_UNITS`, :func:`lstmcast.fused_lstm.small_step`); else float32.

Whatever the batch, bfloat16 products run through the fused kernel, so a series' forecast does
not depend on how many others share its batch.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch

from .errors import ConfigError, option

PRECISIONS = ("auto", "fp32", "bf16")
# Whether "auto" picks bfloat16 where it is native: only if M4 Hourly's OWA and ETTh1's MSE
# stayed within 0.5% of float32's. On validation (benchmarks/RESULTS.md, issue 20): ETTh1 MSE
# -0.06%; M4 OWA +0.40% and -0.73% (two seeds, one network each; mean -0.16%).
AUTO_BF16 = True
# x86 CPU flags of native bfloat16 arithmetic (/proc/cpuinfo).
_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.cache
def cpu_field(name: str) -> str:
    """Field ``name`` of the first processor in ``/proc/cpuinfo`` ("flags", "vendor_id", ...);
    "" where there is no such file (not Linux) or field."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return ""


def _cpu_flags() -> frozenset[str]:
    return frozenset(cpu_field("flags").split())


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 natively (not emulated)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type != "cpu":
        return False
    capability = torch.backends.cpu.get_cpu_capability()
    if "AMX" in capability:
        return True
    # torch held to a lower level (ATEN_CPU_CAPABILITY=avx2, as on a machine without AVX-512):
    # its kernels, and ours built for that level, run no bfloat16 instruction.
    if not capability.startswith("AVX512"):
        return False
    return any(flag in _cpu_flags() for flag in _BF16_FLAGS)


def resolve(precision: str, device: torch.device, training: bool, small_step: bool = False) -> str:
    """``"fp32"`` or ``"bf16"``: what setting ``precision`` means on ``device``; ``small_step``:
    the network trains in steps too small for the fused kernel to be faster
    (:func:`lstmcast.fused_lstm.small_step`), so "auto" keeps float32.

    Training in bfloat16 where it is not native is refused; forecasting there uses float32.
    """
    native = native_bf16(device)
    if precision == "bf16" and device.type != "cpu":
        if not training:
            return "fp32"
        raise ConfigError(
            f"{option('precision', 'bf16')}: bfloat16 products are lstmcast's CPU kernel's; on "
            f"{device.type.upper()} the LSTM runs in float32: use {option('precision', 'fp32')} "
            f"or {option('precision', 'auto')}"
        )
    if precision == "bf16" and not native:
        if not training:
            return "fp32"
        raise ConfigError(
            f"{option('precision', 'bf16')}: this {device.type.upper()} has no native bfloat16 "
            "(x86 CPUs need AVX512_BF16 or AMX; emulated, it would be many times slower than "
            f"float32); use {option('precision', 'auto')} or {option('precision', 'fp32')}"
        )
    if precision == "auto":
        fast = native and AUTO_BF16 and device.type == "cpu" and not small_step
        return "bf16" if fast else "fp32"
    return precision


def use_precision(networks: list[torch.nn.Module], resolved: str) -> None:
    """Make each network's LSTM compute its products in ``resolved`` ("fp32" or "bf16")."""
    for network in networks:
        for module in network.modules():
            if hasattr(module, "low_precision"):
                module.low_precision = resolved == "bf16"

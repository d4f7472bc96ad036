"""Adam and its learning-rate schedules, without starting torch's compiler.

``torch.optim.Adam`` imports ``torch._dynamo`` (the ``torch.compile`` stack, with sympy) the first
time it is built and stepped: on these 2-core machines about as long as ``import torch`` itself,
and more than training the tutorial's model takes. :class:`Adam` here runs the very arithmetic of
``torch.optim.Adam``'s single-tensor path, the one torch uses for CPU tensors, so on the CPU it
gives the same weights bit for bit (tests/test_optim.py checks it against torch, with and without
each schedule). Its state dict has torch's layout.

Schedules are pure functions of the step: :func:`schedule_at` reproduces
``torch.optim.lr_scheduler.OneCycleLR`` (cosine annealing, with Adam's beta1 cycled inversely
between 0.95 and 0.85) and ``CosineAnnealingLR``, so a resumed run needs no scheduler state.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch

# OneCycleLR's defaults, which "onecycle" means.
ONECYCLE_WARMUP = 0.3  # share of the steps spent rising to the peak learning rate
ONECYCLE_START_DIV = 25.0  # the first learning rate is lr / 25
ONECYCLE_END_DIV = 1e4  # the last is that / 1e4
ONECYCLE_MOMENTUM = (0.95, 0.85)  # beta1 at the start and at the peak


def schedule_at(
    schedule: str | None, step: int, total: int, lr: float
) -> tuple[float, float | None]:
    """Learning rate and beta1 (None: unchanged) for 0-based ``step`` of ``total``."""
    if schedule is None:
        return lr, None
    if schedule == "cosine":
        return lr * (1 + math.cos(math.pi * step / total)) / 2, None
    if schedule == "onecycle":
        first, top = lr / ONECYCLE_START_DIV, lr
        last = first / ONECYCLE_END_DIV
        high, low = ONECYCLE_MOMENTUM
        peak = float(ONECYCLE_WARMUP * total) - 1
        if step <= peak:
            pct = step / peak
            return _anneal(first, top, pct), _anneal(high, low, pct)
        pct = (step - peak) / (total - 1 - peak)
        return _anneal(top, last, pct), _anneal(low, high, pct)
    raise ValueError(f"unknown schedule {schedule!r}")


def _anneal(start: float, end: float, pct: float) -> float:
    # Written exactly as torch's OneCycleLR computes it, so the rates agree to the last bit.
    cos_out = math.cos(math.pi * pct) + 1
    return end + (start - end) / 2.0 * cos_out


class Adam:
    """Adam (Kingma & Ba) over ``params``: the update of ``torch.optim.Adam`` with its defaults.

    ``lr`` and ``betas`` may be changed between steps (schedules do).
    """

    def __init__(
        self,
        params: Iterable[torch.nn.Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.params = list(params)
        self.lr, self.betas, self.eps = lr, betas, eps
        self.state: list[dict[str, torch.Tensor]] = [{} for _ in self.params]

    def zero_grad(self) -> None:
        for param in self.params:
            param.grad = None

    @torch.no_grad()
    def step(self) -> None:
        beta1, beta2 = self.betas
        for param, state in zip(self.params, self.state, strict=True):
            if param.grad is None:
                continue
            if not state:
                state["step"] = torch.tensor(0.0)
                state["exp_avg"] = torch.zeros_like(param, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(param, memory_format=torch.preserve_format)
            grad, exp_avg, exp_avg_sq = param.grad, state["exp_avg"], state["exp_avg_sq"]
            state["step"] += 1
            exp_avg.lerp_(grad, 1 - beta1)  # first moment: running mean of the gradient
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)  # second moment
            step = state["step"].item()
            step_size = self.lr / (1 - beta1**step)  # bias corrections for the zero start
            bias_correction2_sqrt = (1 - beta2**step) ** 0.5
            denominator = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(self.eps)
            param.addcdiv_(exp_avg, denominator, value=-step_size)

    def state_dict(self) -> dict[str, Any]:
        """The state in ``torch.optim.Adam``'s layout (loads into it, and back)."""
        return {
            "state": {i: dict(state) for i, state in enumerate(self.state) if state},
            "param_groups": [
                {
                    "lr": self.lr,
                    "betas": self.betas,
                    "eps": self.eps,
                    "weight_decay": 0.0,
                    "amsgrad": False,
                    "params": list(range(len(self.params))),
                }
            ],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        group = state_dict["param_groups"][0]
        self.lr, self.betas, self.eps = group["lr"], tuple(group["betas"]), group["eps"]
        self.state = [{} for _ in self.params]
        for index, slots in state_dict["state"].items():
            param = self.params[int(index)]
            self.state[int(index)] = {
                "step": slots["step"].detach().clone().float().cpu(),
                "exp_avg": slots["exp_avg"].detach().clone().to(param.device),
                "exp_avg_sq": slots["exp_avg_sq"].detach().clone().to(param.device),
            }

"""lstmcast's Adam and schedules give torch.optim's numbers, without importing torch's compiler."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from lstmcast.model import LSTMNetwork, NetworkConfig
from lstmcast.optim import Adam, schedule_at


def run(optimizer_factory: str, schedule: str | None, steps: int = 40) -> list[torch.Tensor]:
    torch.manual_seed(0)
    network = LSTMNetwork(NetworkConfig(hidden_size=8, num_layers=2, horizon=3))
    x, y = torch.randn(16, 10, 1), torch.randn(16, 3)
    if optimizer_factory == "torch":
        optimizer = torch.optim.Adam(network.parameters(), lr=0.01)
        scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
        if schedule == "onecycle":
            scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, 0.01, total_steps=steps)
        elif schedule == "cosine":
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
        for _ in range(steps):
            optimizer.zero_grad()
            torch.nn.functional.mse_loss(network(x), y).backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
    else:
        ours = Adam(network.parameters(), lr=0.01)
        for step in range(steps):
            ours.lr, beta1 = schedule_at(schedule, step, steps, 0.01)
            if beta1 is not None:
                ours.betas = (beta1, ours.betas[1])
            ours.zero_grad()
            torch.nn.functional.mse_loss(network(x), y).backward()
            ours.step()
    return [p.detach().clone() for p in network.parameters()]


@pytest.mark.parametrize("schedule", [None, "onecycle"])
def test_same_weights_as_torch_bit_for_bit(schedule: str | None) -> None:
    for theirs, ours in zip(run("torch", schedule), run("ours", schedule), strict=True):
        assert torch.equal(theirs, ours)


def test_cosine_schedule_matches_torch() -> None:
    for theirs, ours in zip(run("torch", "cosine"), run("ours", "cosine"), strict=True):
        torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=0)
    rates = [schedule_at("cosine", step, 10, 1.0)[0] for step in range(10)]
    assert rates[0] == 1.0
    assert rates[5] == pytest.approx(0.5)


def test_state_dict_has_torch_layout() -> None:
    param = torch.nn.Parameter(torch.randn(4))
    ours = Adam([param], lr=0.1)
    param.sum().backward()
    ours.step()
    theirs = torch.optim.Adam([param], lr=0.1)
    theirs.load_state_dict(ours.state_dict())
    again = Adam([param])
    again.load_state_dict(theirs.state_dict())
    assert again.lr == 0.1
    assert torch.equal(again.state[0]["exp_avg"], ours.state[0]["exp_avg"])


def test_training_never_imports_the_compiler() -> None:
    code = (
        "import sys, numpy as np, torch, lstmcast as lc\n"
        "lc.LSTMForecaster(window=8, hidden_size=4, epochs=1).fit(np.sin(np.arange(50) / 3))\n"
        "print('torch._dynamo' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"

"""The plain-PyTorch reference network, shared by W1's child, W2 and benchmarks.w1_seeds.

A module of its own because it needs torch at the top: W1's child imports it only after its
timed ``import torch``.
"""

from __future__ import annotations

import torch
from torch import nn


class ReferenceNet(nn.Module):
    """The plain-PyTorch model: nn.LSTM, the last hidden state -> nn.Linear(1)."""

    def __init__(self, hidden: int, layers: int, inputs: int = 1) -> None:
        super().__init__()
        self.lstm = nn.LSTM(inputs, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return self.head(out[:, -1])

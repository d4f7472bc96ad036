"""The network: a stack of :class:`~lstmcast.lstm.LSTM` layers and a linear head.

The head reads the last hidden state and emits every step of the horizon at once (direct
multi-output), so a horizon of 24 costs one pass, not 24.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from .lstm import LSTM, GateTrace


@dataclass(frozen=True)
class NetworkConfig:
    input_size: int = 1  # features per time step: the (scaled) series value
    hidden_size: int = 50  # H, units per LSTM layer
    num_layers: int = 1
    dropout: float = 0.0  # between LSTM layers and before the head, training only
    horizon: int = 1  # steps the head emits at once

    def to_dict(self) -> dict[str, int | float]:
        return asdict(self)


class LSTMNetwork(nn.Module):
    """``x`` (batch, window, input_size) -> forecast (batch, horizon), in scaled units."""

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.config = config
        # torch.nn.LSTM's own dropout only acts between layers (and warns for one layer).
        between_layers = config.dropout if config.num_layers > 1 else 0.0
        self.lstm = LSTM(config.input_size, config.hidden_size, config.num_layers, between_layers)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden_size, config.horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output, _ = self.lstm(x)  # (B, T, H)
        return self.head(self.dropout(output[:, -1]))  # (B, horizon)

    def trace(self, x: torch.Tensor) -> tuple[torch.Tensor, GateTrace]:
        """Forecast through the step-by-step path, returning every gate: (B, horizon), trace."""
        gates = self.lstm.trace(x)
        return self.head(self.dropout(gates.hidden[-1][:, -1])), gates

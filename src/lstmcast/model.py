"""The network: optional window normalisation and segment embedding, an LSTM stack, a linear head.

``x`` (batch, window, features) -> forecast (batch, horizon), feature 0 being the target (scaled
per series). Five switches, all off by default (the tutorial's model):

- ``window_norm`` normalises each input window by its own statistics and de-normalises the
  output (RevIN-style instance normalisation): ``"revin"`` subtracts the window's mean and divides
  by its standard deviation, ``"last"`` subtracts its last value (as SegRNN does). It makes the
  model see shapes rather than levels, which helps when levels drift between windows.
- ``segment`` > 1 cuts the window into segments of that many steps; a linear layer embeds each
  segment (``segment * features`` values -> ``hidden_size``) and the LSTM steps over segments, so a
  window of 336 hours is 14 LSTM steps of 24 hours, not 336 (SegRNN's idea, with an LSTM cell).
- ``horizon`` > 1: the head reads the last hidden state and emits every step of the horizon at once
  (direct multi-output), so a horizon of 720 costs one pass, not 720.
- ``baseline_season`` = s > 0: the network forecasts the correction to the window's seasonal naive
  forecast (its last s values repeated), which is added to its output: a network whose head
  outputs zeros is seasonal naive, so training starts from that forecast instead of from noise.
- covariates (:mod:`lstmcast.covariates`): past-only and future-known features follow the target
  in ``x``; with ``futr_size`` future-known ones, ``x`` is (batch, window + horizon, features)
  and a decoder reads each horizon step's future-known values beside the last hidden state.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from .lstm import LSTM, GateTrace

WINDOW_NORMS = ("revin", "last")
BASELINES = ("seasonal",)  # what the network may forecast a correction to
_EPS = 1e-5  # keeps a flat window's standard deviation away from zero


def embedding_size(values: int) -> int:
    """Embedding width of a static category with ``values`` codes (the unknown one included)."""
    return min(8, (values + 1) // 2 + 1)


@dataclass(frozen=True)
class NetworkConfig:
    input_size: int = 1  # features per time step: the scaled target, then calendar features
    hidden_size: int = 50  # H, units per LSTM layer
    num_layers: int = 1
    dropout: float = 0.0  # between LSTM layers and before the head, training only
    horizon: int = 1  # steps the head emits at once
    segment: int = 1  # time steps per LSTM step; 1 feeds the raw steps
    window_norm: str | None = None  # None, "revin" or "last"
    quantiles: tuple[float, ...] = ()  # learned quantiles besides the median, ascending
    forget_bias: float | None = None  # initial forget-gate bias; None: torch's initialisation
    baseline_season: int = 0  # > 0: forecast the correction to seasonal naive of this season
    # Covariate features after the target: past-only, then future-known. With future-known
    # ones, x holds the window and then the horizon's steps (only their futr features are read).
    hist_size: int = 0
    futr_size: int = 0
    # Static covariates after those: numbers, then category codes (each embedded), one value
    # per series repeated at every step; ``static_categories``: codes of each (0: unknown).
    static_size: int = 0
    static_categories: tuple[int, ...] = ()
    # The last input feature says which target values are missing (1; read as 0): window
    # normalisation then reads only the observed ones (missing="mask").
    missing_indicator: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "quantiles", tuple(self.quantiles))  # JSON gives lists
        object.__setattr__(self, "static_categories", tuple(self.static_categories))

    @property
    def step_features(self) -> int:
        """Features of one time step as the LSTM (or the segment embedding) reads them: the
        inputs, each category code replaced by its embedding."""
        embedded = sum(embedding_size(values) for values in self.static_categories)
        return self.input_size - len(self.static_categories) + embedded

    def to_dict(self) -> dict[str, int | float | str | None]:
        return asdict(self)


class LSTMNetwork(nn.Module):
    """``x`` (batch, window, input_size) -> forecast (batch, horizon), in scaled units."""

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.config = config
        lstm_input = config.step_features
        if config.static_categories:
            self.static_embeddings = nn.ModuleList(
                nn.Embedding(values, embedding_size(values)) for values in config.static_categories
            )
        if config.segment > 1:
            self.embed = nn.Linear(config.segment * config.step_features, config.hidden_size)
            lstm_input = config.hidden_size
        # torch.nn.LSTM's own dropout only acts between layers (and warns for one layer).
        between_layers = config.dropout if config.num_layers > 1 else 0.0
        self.lstm = LSTM(
            lstm_input, config.hidden_size, config.num_layers, between_layers, config.forget_bias
        )
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden_size, config.horizon)
        if config.baseline_season:
            # Start from the baseline itself: the correction is learned from zero.
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)
        if config.futr_size:
            # The horizon's future-known values, step by step, beside the window's summary:
            # one small network shared by every step, added to the head's output.
            self.decoder = nn.Sequential(
                nn.Linear(config.hidden_size + config.futr_size, config.hidden_size),
                nn.ReLU(),
                nn.Linear(config.hidden_size, 1),
            )
        if config.quantiles:
            # Gaps between neighbouring quantiles, made positive by softplus: quantiles that
            # cannot cross, whatever the weights.
            self.quantile_gaps = nn.Linear(
                config.hidden_size, config.horizon * len(config.quantiles)
            )

    def _split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The input window (B, window, F) and, with future-known covariates, their values over
        the horizon (B, horizon, futr_size); with window normalisation, every time-varying
        covariate less its own window's level (mean, or last value), as the target is (its
        future values less the same)."""
        config = self.config
        future = None
        if config.futr_size:
            first = 1 + config.hist_size
            future = x[:, -config.horizon :, first : first + config.futr_size]
            x = x[:, : -config.horizon]
        dynamic = config.hist_size + config.futr_size
        if not dynamic or config.window_norm is None:
            return x, future
        # Levels only: a flag that is 0 over a whole window has no spread to divide by, and the
        # covariates are in units of their series' spread already.
        covariates = x[..., 1 : 1 + dynamic]  # (B, window, C)
        if config.window_norm == "revin":
            level = covariates.mean(dim=1, keepdim=True)
        else:  # "last"
            level = covariates[:, -1:]
        x = torch.cat([x[..., :1], covariates - level, x[..., 1 + dynamic :]], dim=-1)
        if future is not None:
            future = future - level[..., config.hist_size : dynamic]
        return x, future

    def _decode(self, last: torch.Tensor, future: torch.Tensor | None) -> torch.Tensor:
        """The median in normalised units (B, horizon) from the last hidden state (B, H)."""
        median = self.head(last)
        if future is not None:
            steps = last[:, None, :].expand(-1, future.shape[1], -1)
            median = median + self.decoder(torch.cat([steps, future], dim=-1))[..., 0]
        return median

    def _embed_categories(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` with each static category code replaced by its embedding (B, T, step_features)."""
        config = self.config
        first = 1 + config.hist_size + config.futr_size + config.static_size
        last = first + len(config.static_categories)
        codes = x[:, 0, first:last].round().long()  # (B, categories): one per series
        embedded = [table(codes[:, k]) for k, table in enumerate(self.static_embeddings)]
        steps = torch.cat(embedded, dim=-1)[:, None, :].expand(-1, x.shape[1], -1)
        return torch.cat([x[..., :first], steps, x[..., last:]], dim=-1)

    def _window_level(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each window's level and spread (B, 1) for ``window_norm``, from its observed target
        values only when some may be missing (a window with none: level 0, spread 1)."""
        target = x[..., 0]
        if not self.config.missing_indicator:
            if self.config.window_norm == "last":
                return x[:, -1, :1], x.new_ones(x.shape[0], 1)
            spread = (target.var(dim=1, keepdim=True, unbiased=False) + _EPS).sqrt()
            return target.mean(dim=1, keepdim=True), spread
        observed = 1.0 - x[..., -1]  # (B, T); missing targets are 0 in x
        if self.config.window_norm == "last":  # the last observed value (none: index 0, a 0)
            steps = torch.arange(x.shape[1], device=x.device)
            last = (observed * steps).argmax(dim=1, keepdim=True)
            return target.gather(1, last), x.new_ones(x.shape[0], 1)
        n = observed.sum(dim=1, keepdim=True).clamp(min=1.0)
        level = target.sum(dim=1, keepdim=True) / n
        variance = (((target - level) * observed) ** 2).sum(dim=1, keepdim=True) / n
        return level, (variance + _EPS).sqrt()

    def _encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Normalise and segment ``x``: the LSTM's input (B, steps, in), level and spread (B, 1)."""
        if self.config.static_categories:
            x = self._embed_categories(x)
        level = x.new_zeros(x.shape[0], 1)
        spread = x.new_ones(x.shape[0], 1)
        if self.config.window_norm is not None:
            level, spread = self._window_level(x)
            target = (x[..., :1] - level[:, :, None]) / spread[:, :, None]
            if self.config.missing_indicator:  # missing values stay 0, beside their indicator
                target = target * (1.0 - x[..., -1:])
            x = torch.cat([target, x[..., 1:]], dim=-1)
        if self.config.segment > 1:
            batch, window, _ = x.shape
            segments = x.reshape(batch, window // self.config.segment, -1)  # (B, W/seg, seg*F)
            x = torch.relu(self.embed(segments))
        return x, level, spread

    def _baseline(self, x: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        """What the head's output is added to: the window's level (B, 1), or with
        ``baseline_season`` its seasonal naive forecast (B, horizon)."""
        season = self.config.baseline_season
        if not season:
            return level
        last_season = x[:, x.shape[1] - season :, 0]  # (B, season)
        return last_season[:, torch.arange(self.config.horizon, device=x.device) % season]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The point forecast (the median with quantile heads), (B, horizon)."""
        x, future = self._split(x)
        inputs, level, spread = self._encode(x)
        output, _ = self.lstm(inputs)  # (B, steps, H)
        median = self._decode(self.dropout(output[:, -1]), future)
        return median * spread + self._baseline(x, level)

    def quantile_forecast(self, x: torch.Tensor, detached: bool = False) -> torch.Tensor:
        """Every learned quantile, ascending, the median among them: (B, horizon, Q + 1).

        ``detached``: the other quantiles are built on a detached median and hidden state, so
        their gradients reach the gap head only (``quantile_training="separate"``).
        """
        x, future = self._split(x)
        inputs, level, spread = self._encode(x)
        output, _ = self.lstm(inputs)
        last = self.dropout(output[:, -1])
        median = self._decode(last, future)  # (B, horizon)
        centre, features = (median.detach(), last.detach()) if detached else (median, last)
        quantiles = self.config.quantiles
        below = sum(q < 0.5 for q in quantiles)
        gaps = nn.functional.softplus(self.quantile_gaps(features))
        gaps = gaps.view(median.shape[0], self.config.horizon, len(quantiles))  # (B, horizon, Q)
        lower = centre[..., None] - gaps[..., :below].flip(-1).cumsum(-1).flip(-1)
        upper = centre[..., None] + gaps[..., below:].cumsum(-1)
        stacked = torch.cat([lower, median[..., None], upper], dim=-1)
        return stacked * spread[..., None] + self._baseline(x, level)[..., None]

    def trace(self, x: torch.Tensor) -> tuple[torch.Tensor, GateTrace]:
        """Forecast through the step-by-step path, returning every gate: (B, horizon), trace."""
        x, future = self._split(x)
        inputs, level, spread = self._encode(x)
        gates = self.lstm.trace(inputs)
        median = self._decode(self.dropout(gates.hidden[-1][:, -1]), future)
        return median * spread + self._baseline(x, level), gates

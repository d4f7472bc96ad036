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
- ``decoder="segments"`` (with ``segment`` > 1) decodes the horizon segment by segment instead, in
  one parallel pass (SegRNN's parallel multi-step decoding): from the last states, the LSTM takes
  one more step per output segment, its input a learned embedding of that segment's position
  beside the series' static category embeddings (the channel, for multivariate data given as
  one series per channel), and a linear layer shared by every segment reads each step's hidden
  state into ``segment`` values. Far segments then get their own state rather than a slice of
  one wide head.
- ``baseline_season`` = s > 0: the network forecasts the correction to the window's seasonal naive
  forecast (its last s values repeated), which is added to its output: a network whose head
  outputs zeros is seasonal naive, so training starts from that forecast instead of from noise.
- covariates (:mod:`lstmcast.covariates`): past-only and future-known features follow the target
  in ``x``; with ``futr_size`` future-known ones, ``x`` is (batch, window + horizon, features)
  and a decoder reads each horizon step's future-known values beside the last hidden state.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

import torch
from torch import nn

from .lstm import LSTM, GateTrace

WINDOW_NORMS = ("revin", "last")
DECODERS = ("linear", "segments")  # one head over the horizon, or one LSTM step per segment
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
    decoder: str = "linear"  # "linear" or "segments" (needs segment > 1)

    def __post_init__(self) -> None:
        object.__setattr__(self, "quantiles", tuple(self.quantiles))  # JSON gives lists
        object.__setattr__(self, "static_categories", tuple(self.static_categories))

    @property
    def step_features(self) -> int:
        """Features of one time step as the LSTM (or the segment embedding) reads them: the
        inputs, each category code replaced by its embedding."""
        return self.input_size - len(self.static_categories) + self.static_width

    @property
    def static_width(self) -> int:
        """Width of the static category embeddings together."""
        return sum(embedding_size(values) for values in self.static_categories)

    @property
    def output_segments(self) -> int:
        """Segments the ``"segments"`` decoder emits: the horizon in ``segment`` steps (rounded
        up)."""
        return -(-self.horizon // self.segment)

    def to_dict(self) -> dict[str, int | float | str | None]:
        return asdict(self)


class Summary(NamedTuple):
    """What the heads read from one pass of the encoder (and the segments decoder)."""

    last: torch.Tensor  # the last hidden state, (B, H)
    decoded: torch.Tensor | None  # the segments decoder's states, (B, segments, H)
    future: torch.Tensor | None  # the horizon's future-known covariates, (B, horizon, futr)
    spread: torch.Tensor  # de-normalisation: output * spread + baseline, (B, 1)
    baseline: torch.Tensor  # (B, 1) or (B, horizon)
    gates: GateTrace | None  # the encoder's gates, when run step by step


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
        head_size = config.horizon  # values the head emits per decoded state
        if config.decoder == "segments":
            position_width = config.hidden_size - config.static_width
            if config.segment < 2 or position_width < 1:
                raise ValueError(
                    "the segments decoder needs segment > 1 and hidden_size above the static "
                    f"embeddings' width ({config.static_width})"
                )
            self.positions = nn.Embedding(config.output_segments, position_width)
            head_size = config.segment
        self.head = nn.Linear(config.hidden_size, head_size)
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
            self.quantile_gaps = nn.Linear(config.hidden_size, head_size * len(config.quantiles))

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

    def _decode(
        self, last: torch.Tensor, decoded: torch.Tensor | None, future: torch.Tensor | None
    ) -> torch.Tensor:
        """The median in normalised units (B, horizon) from the last hidden state (B, H), or
        the segments decoder's states (B, segments, H)."""
        median = self._spread_over_horizon(self.head(last if decoded is None else decoded))
        if future is not None:
            steps = last[:, None, :].expand(-1, future.shape[1], -1)
            median = median + self.decoder(torch.cat([steps, future], dim=-1))[..., 0]
        return median

    def _spread_over_horizon(self, values: torch.Tensor) -> torch.Tensor:
        """A head's output, (B, horizon * k) or (B, segments, segment * k), as (B, horizon, k)
        with k > 1 or (B, horizon) with k = 1 (the segments' steps past the horizon dropped)."""
        per_step = values.shape[-1] // (
            self.config.segment if values.dim() == 3 else self.config.horizon
        )
        values = values.reshape(values.shape[0], -1, per_step)[:, : self.config.horizon]
        return values[..., 0] if per_step == 1 else values

    def _segment_states(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
    ) -> torch.Tensor:
        """One LSTM step per output segment from the encoder's last ``state`` (each
        (layers, B, H)), its input the segment's position embedding beside the series' static
        category embeddings: the last layer's hidden states (B, segments, H)."""
        own = self._category_embeddings(x) if self.config.static_categories else None
        return self.dropout(self.lstm.fan_out(state, self.positions.weight, own))

    def _category_columns(self) -> slice:
        """Where the static category codes sit among the input features."""
        config = self.config
        first = 1 + config.hist_size + config.futr_size + config.static_size
        return slice(first, first + len(config.static_categories))

    def _category_embeddings(self, x: torch.Tensor) -> torch.Tensor:
        """Each series' static category embeddings side by side (B, static_width)."""
        codes = x[:, 0, self._category_columns()].round().long()  # (B, categories): one per series
        return torch.cat(
            [table(codes[:, k]) for k, table in enumerate(self.static_embeddings)], dim=-1
        )

    def _embed_categories(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` with each static category code replaced by its embedding (B, T, step_features)."""
        columns = self._category_columns()
        steps = self._category_embeddings(x)[:, None, :].expand(-1, x.shape[1], -1)
        return torch.cat([x[..., : columns.start], steps, x[..., columns.stop :]], dim=-1)

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

    def _summary(self, x: torch.Tensor, trace: bool = False) -> Summary:
        """Run the encoder (and the segments decoder) over ``x``, through the fused kernel or
        step by step (``trace``)."""
        x, future = self._split(x)
        inputs, level, spread = self._encode(x)
        gates = None
        if trace:
            gates = self.lstm.trace(inputs)
            output, state = gates.hidden[-1], (gates.hidden[:, :, -1], gates.cell[:, :, -1])
        else:
            output, state = self.lstm(inputs)  # (B, steps, H)
        decoded = None
        if self.config.decoder == "segments":
            decoded = self._segment_states(x, state)
        last = self.dropout(output[:, -1])
        return Summary(last, decoded, future, spread, self._baseline(x, level), gates)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The point forecast (the median with quantile heads), (B, horizon)."""
        run = self._summary(x)
        return self._decode(run.last, run.decoded, run.future) * run.spread + run.baseline

    def quantile_forecast(self, x: torch.Tensor, detached: bool = False) -> torch.Tensor:
        """Every learned quantile, ascending, the median among them: (B, horizon, Q + 1).

        ``detached``: the other quantiles are built on a detached median and hidden state, so
        their gradients reach the gap head only (``quantile_training="separate"``).
        """
        run = self._summary(x)
        median = self._decode(run.last, run.decoded, run.future)  # (B, horizon)
        features = run.last if run.decoded is None else run.decoded
        centre, features = (median.detach(), features.detach()) if detached else (median, features)
        quantiles = self.config.quantiles
        below = sum(q < 0.5 for q in quantiles)
        gaps = nn.functional.softplus(self._spread_over_horizon(self.quantile_gaps(features)))
        gaps = gaps.reshape(median.shape[0], self.config.horizon, len(quantiles))  # (B, horizon, Q)
        lower = centre[..., None] - gaps[..., :below].flip(-1).cumsum(-1).flip(-1)
        upper = centre[..., None] + gaps[..., below:].cumsum(-1)
        stacked = torch.cat([lower, median[..., None], upper], dim=-1)
        return stacked * run.spread[..., None] + run.baseline[..., None]

    def trace(self, x: torch.Tensor) -> tuple[torch.Tensor, GateTrace]:
        """Forecast through the step-by-step path, returning every gate of the encoder:
        (B, horizon), trace."""
        run = self._summary(x, trace=True)
        assert run.gates is not None
        median = self._decode(run.last, run.decoded, run.future)
        return median * run.spread + run.baseline, run.gates

"""Export a fitted LSTM forecaster to ONNX: raw windows in, raw forecasts (and intervals) out.

Where it sits: after fit (windows -> model -> *forecast*), beside ``predict``. The exported graph
does for each row what ``predict`` does for one series' last window: the per-series scaling
(the fitted ``scaler_`` statistics, embedded as constants and picked by a series index), the
covariates' scaling and each series' static covariates (constants too), the window
normalisation, segment embedding and seasonal baseline inside each network, every ensemble
member and their median (or mean), the learned quantile heads and the conformal calibration of the
intervals, then the de-scaling. A server that has a series' last ``window`` raw values and its
index (the order is in the model's metadata) gets the numbers ``predict`` would give.

The contract of the ``.onnx`` file (:class:`OnnxContract`; also in its ``metadata_props``):

- input ``series``: int64 (batch,), each row's series, its position in ``series_ids`` (0 to
  n - 1; an index outside is an error of the runtime, a negative one counts from the end);
- input ``window``: float64 (batch, window), each row's last ``window`` raw values, oldest first
  (a model with ``target_transform="log"``, given or the recipe's, takes their log inside the
  graph, so values must be above 0: the graph has no series history to read a value <= 0 by,
  as ``predict`` does under the recipe's log; and it exponentiates its outputs);
- input ``covariates`` (a model with ``hist_cols`` or ``futr_cols``): float64 (batch, window,
  C), the raw past-only then future-known columns at the window's steps;
- input ``future`` (a model with ``futr_cols``): float64 (batch, h, F), the raw future-known
  columns at the ``h`` steps forecast;
- output ``forecast``: float64 (batch, h), the point forecast (``predict``'s ``LSTM`` column);
- output ``intervals`` (only when levels are exported): float64 (batch, h, 2 * levels), the
  bounds in ascending order, lowest first: ``LSTM-lo-95, LSTM-lo-80, LSTM-hi-80, LSTM-hi-95``.

The batch dimension is dynamic; ``window`` and ``h`` are fixed when exporting. Exported with
torch's own exporter (``torch.onnx.export(..., dynamo=True)``, which maps ``lc.LSTM`` onto
ONNX's LSTM operator; the older TorchScript exporter, ``dynamo=False``, handles it too but is
deprecated in torch 2.13) at opset :data:`OPSET`; onnx, onnxscript and onnxruntime are the optional
extra ``lstmcast[onnx]``. Values go in and out as float64, as ``predict`` scales and de-scales
them; the networks run in float32, as in torch. Missing values are not filled
(``covariate_missing``, ``missing="interpolate"`` or ``"ffill"`` are the caller's job): a NaN in
gives NaN out, except a NaN target value of a ``missing="mask"`` model, masked as ``predict``
masks it.

Not exported (refused with a ConfigError saying why): calendar features (computed from local
times, which the graph does not take), intervals past the ``horizon`` (the calibration covers
the horizon), covariates past it (they cannot be fed back), series the model never saw (cold
start: their statistics are not in the graph). Forecasts past the ``horizon`` are exported as
``predict`` makes them: each block fed back as the newest inputs, unrolled in the graph.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .checks import check_h
from .columns import interval_column
from .errors import ConfigError, setting
from .forecasting import (
    point_forecast,
    quantile_forecast,
    refuse_recursion,
    score_unit,
    seasonal_spread,
)
from .intervals import (
    check_interval_request,
    conformal_quantile,
    interval_columns,
    quantile_columns,
)
from .model import LSTMNetwork

# ONNX's default operator set in torch 2.13's exporter, fixed here so an export does not change
# with torch's default: onnxruntime 1.17 and later run it.
OPSET = 20
# Version of the contract below (inputs, outputs, metadata keys): a server checks it.
FORMAT_VERSION = 1
INSTALL_HINT = "pip install 'lstmcast[onnx]'"
OUTPUT_NAMES = ("forecast", "intervals")


def require_onnx(task: str = "exporting to ONNX") -> Any:
    """The onnx package (and the exporter's onnxscript), or a ConfigError naming the extra."""
    try:
        import onnx
        import onnxscript  # noqa: F401  (torch's exporter builds the graph with it)
    except ImportError:
        raise ConfigError(
            f"{task} needs onnx and onnxscript, an optional extra that is not installed: "
            f"{INSTALL_HINT}"
        ) from None
    return onnx


@dataclass(frozen=True)
class OnnxContract:
    """What an exported file takes and gives, written into its ``metadata_props``.

    ``series_ids``: the series in index order (input ``series`` holds positions in it);
    ``window``: raw values per row; ``h``: steps forecast per row; ``levels``: interval levels
    exported (ascending; empty: ``forecast`` only); ``interval_columns``: the names of the
    ``intervals`` output's last axis, lowest bound first; ``intervals``: how they were made.
    ``covariate_columns``: the ``covariates`` input's columns (past-only, then future-known);
    ``future_columns``: the ``future`` input's; ``static_columns``: static covariates, each
    series' saved values inside the graph.
    """

    series_ids: list[str]
    window: int
    h: int
    horizon: int
    levels: list[float]
    interval_columns: list[str]
    intervals: str
    settings: dict[str, Any]
    lstmcast_version: str
    covariate_columns: list[str] = field(default_factory=list)
    future_columns: list[str] = field(default_factory=list)
    static_columns: list[str] = field(default_factory=list)
    opset: int = OPSET
    format_version: int = FORMAT_VERSION

    @property
    def inputs(self) -> dict[str, str]:
        n = len(self.series_ids)
        inputs = {
            "series": f"int64 (batch,): each row's series, its index 0..{n - 1} in series_ids",
            "window": f"float64 (batch, {self.window}): each row's last {self.window} raw "
            "values, oldest first",
        }
        if self.covariate_columns:
            inputs["covariates"] = (
                f"float64 (batch, {self.window}, {len(self.covariate_columns)}): the raw "
                f"{', '.join(self.covariate_columns)} at the window's steps"
            )
        if self.future_columns:
            inputs["future"] = (
                f"float64 (batch, {self.h}, {len(self.future_columns)}): the raw "
                f"{', '.join(self.future_columns)} at the {self.h} steps forecast"
            )
        return inputs

    @property
    def outputs(self) -> dict[str, str]:
        outputs = {"forecast": f"float64 (batch, {self.h}): the point forecast, raw units"}
        if self.levels:
            outputs["intervals"] = (
                f"float64 (batch, {self.h}, {len(self.interval_columns)}): "
                f"{', '.join(self.interval_columns)}"
            )
        return outputs

    def metadata(self) -> dict[str, str]:
        """The contract as ONNX ``metadata_props``: every value text (JSON where not a word)."""
        fields = asdict(self) | {"inputs": self.inputs, "outputs": self.outputs}
        return {
            name: value if isinstance(value, str) else json.dumps(value, default=_plain)
            for name, value in fields.items()
        }

    def lines(self) -> list[str]:
        """The contract in a few lines, for people (``lstmcast export`` prints them)."""
        names = ", ".join(repr(i) for i in self.series_ids[:3])
        names += ", ..." if len(self.series_ids) > 3 else ""
        lines = [f"input  {name}: {text}" for name, text in self.inputs.items()]
        lines += [f"output {name}: {text}" for name, text in self.outputs.items()]
        lines.append(f"series {len(self.series_ids)} ({names}; all in metadata series_ids)")
        if self.static_columns:
            lines.append(f"static {', '.join(self.static_columns)}: each series' saved values")
        if self.levels:
            lines.append(f"intervals {self.intervals}")
        lines.append(f"opset  {self.opset}")
        return lines


def _float64(values: Any) -> torch.Tensor | None:
    return None if values is None else torch.as_tensor(values, dtype=torch.float64)


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


@dataclass(frozen=True)
class Covariates:
    """What the graph needs to read a covariate model's inputs as ``predict`` does.

    ``hist``, ``futr``: how many past-only and future-known columns (in that order in the
    ``covariates`` input); ``shift``, ``scale`` (n, hist + futr): their per-series scaling;
    ``static`` (n, S): each series' static covariates as the network reads them (numbers
    standardised, category codes), or None.
    """

    hist: int
    futr: int
    shift: np.ndarray
    scale: np.ndarray
    static: np.ndarray | None


class ForecastGraph(nn.Module):
    """``predict`` for one window per row, in torch operations the ONNX exporter can trace.

    ``forward(series (B,) int64, window (B, window) float64[, covariates (B, window, C)
    float64[, future (B, h, F) float64]])`` -> ``forecast`` (B, h) float64, and with
    ``levels`` also ``intervals`` (B, h, 2 * levels) float64, lowest bound first.

    Parameters
    ----------
    networks : the ensemble, on the CPU, in evaluation mode.
    combine : how the ensemble's forecasts become one: "median" or "mean" (``ensemble_combine``).
    shift, scale : (n,) the per-series scaling, ``(y - shift) / scale``.
    window, horizon, h : input length, steps each network emits, steps forecast (h > horizon:
        recursive, the point forecast only).
    quantiles : the heads' learned quantiles besides the median (empty: no heads).
    levels : interval levels, ascending.
    corrections : (levels, h) the conformal correction of each level in score units, or None
        for a model without calibration.
    season_length, window_unit : scores are in units of each window's mean absolute seasonal
        difference (``window_unit``) or of the series' scale alone (models saved before).
    covariates : the covariates' scaling and static values, or None for a model without.
    masked : a NaN in ``window`` is a missing value (``missing="mask"``): read as 0 beside the
        networks' missing-value indicator, the last input feature.
    log_target : the model's ``target_transform="log"``: the window's log is scaled, and the
        forecast and every bound (made on the log scale) are exponentiated.
    """

    def __init__(
        self,
        networks: Sequence[LSTMNetwork],
        shift: np.ndarray,
        scale: np.ndarray,
        *,
        window: int,
        horizon: int,
        h: int,
        quantiles: tuple[float, ...],
        levels: list[float],
        corrections: np.ndarray | None,
        season_length: int,
        window_unit: bool,
        covariates: Covariates | None = None,
        masked: bool = False,
        log_target: bool = False,
        combine: str,
        spread: np.ndarray | None = None,
    ) -> None:
        super().__init__()
        self.combine = combine
        self.masked = masked
        self.log_target = log_target
        self.networks = nn.ModuleList(networks)
        self.register_buffer("shift", _float64(shift))
        self.register_buffer("scale", _float64(scale))
        self.register_buffer("corrections", _float64(corrections))  # None: not calibrated
        self.register_buffer("spread", _float64(spread))  # None: saved before series spreads
        self.window, self.horizon, self.h = window, horizon, h
        self.levels, self.season_length, self.window_unit = levels, season_length, window_unit
        self.learned = [interval_columns(quantiles, level) for level in levels] if quantiles else []
        self.median_column = quantile_columns(quantiles).index(0.5) if quantiles else None
        self.hist = covariates.hist if covariates else 0
        self.futr = covariates.futr if covariates else 0
        self.register_buffer("covariate_shift", _float64(covariates and covariates.shift))
        self.register_buffer("covariate_scale", _float64(covariates and covariates.scale))
        static = covariates.static if covariates else None
        # float32, as the network reads them (predict casts them with the window).
        self.register_buffer("static", None if static is None else torch.as_tensor(static).float())

    @property
    def input_names(self) -> list[str]:
        """The inputs ``forward`` takes, in order: series, window, then covariates and future
        when the model reads them."""
        names = ["series", "window"]
        names += ["covariates"] if self.hist + self.futr else []
        return names + (["future"] if self.futr else [])

    def forward(
        self,
        series: torch.Tensor,
        window: torch.Tensor,
        covariates: torch.Tensor | None = None,
        future: torch.Tensor | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        if not self.log_target:
            return self._model_units(series, window, covariates, future)
        # As predict with a log target: everything in log units, mapped back at the end (exp
        # is monotone, so bounds stay ordered and nested).
        found = self._model_units(series, torch.log(window), covariates, future)
        if isinstance(found, tuple):
            return torch.exp(found[0]), torch.exp(found[1])
        return torch.exp(found)

    def _model_units(
        self,
        series: torch.Tensor,
        window: torch.Tensor,
        covariates: torch.Tensor | None,
        future: torch.Tensor | None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``forward`` for a ``window`` in model units: forecasts (and bounds) in the same."""
        shift = self.shift[series][:, None]  # (B, 1)
        scale = self.scale[series][:, None]
        # As predict: scaled in float64, then float32 for the networks (B, window, 1).
        target = ((window - shift) / scale).float()[..., None]
        x = self._inputs(series, target, covariates, future)
        if not self.levels:
            return self._recursive(x).double() * scale + shift
        if self.learned:
            scaled = quantile_forecast(self.networks, x, self.combine).double()
            scaled = scaled[:, : self.h]  # (B, h, Q + 1)
            values = scaled[..., self.median_column] * scale + shift
        else:
            scaled = None
            forecast = point_forecast(self.networks, x, self.combine).double()[:, : self.h]
            values = forecast * scale + shift
        spread = None if self.spread is None else self.spread[series]
        return values, self._intervals(x[:, : self.window], values, scaled, scale, shift, spread)

    def _inputs(
        self,
        series: torch.Tensor,
        target: torch.Tensor,
        covariates: torch.Tensor | None,
        future: torch.Tensor | None,
    ) -> torch.Tensor:
        """The networks' input as ``predict`` builds it (lstmcast.forecasting.input_windows):
        the scaled target, the scaled covariates, the static ones at every step (B, window,
        features); with future-known covariates, then the horizon's steps holding only those
        (B, window + horizon, features), zeros past ``h``."""
        missing = torch.isnan(target) if self.masked else None
        features = [target if missing is None else torch.where(missing, 0.0, target)]
        if covariates is not None:
            shift = self.covariate_shift[series][:, None, :]  # (B, 1, C)
            scale = self.covariate_scale[series][:, None, :]
            features.append(((covariates - shift) / scale).float())
        if self.static is not None:
            features.append(self.static[series][:, None, :].expand(-1, target.shape[1], -1))
        if missing is not None:  # the missing-value indicator, last (as network_inputs puts it)
            features.append(missing.float())
        x = torch.cat(features, dim=-1)
        if future is None:
            return x
        first = 1 + self.hist  # the future-known features of x
        shift = self.covariate_shift[series][:, None, self.hist :]
        scale = self.covariate_scale[series][:, None, self.hist :]
        known = ((future - shift) / scale).float()  # (B, h, futr)
        batch = known.shape[0]
        if self.h < self.horizon:
            known = torch.cat([known, known.new_zeros(batch, self.horizon - self.h, self.futr)], 1)
        parts = [known.new_zeros(batch, self.horizon, first), known]
        if x.shape[-1] > first + self.futr:  # the static covariates' zeros
            parts.append(known.new_zeros(batch, self.horizon, x.shape[-1] - first - self.futr))
        return torch.cat([x, torch.cat(parts, dim=-1)], dim=1)

    def _recursive(self, x: torch.Tensor) -> torch.Tensor:
        """``h`` steps (B, h) in scaled units, block by block as ``scaled_forecast`` feeds
        each block back as the newest inputs."""
        blocks = []
        for done in range(0, self.h, self.horizon):
            block = point_forecast(self.networks, x, self.combine)  # (B, horizon)
            blocks.append(block)
            if done + self.horizon < self.h:  # other features (an indicator) 0 there
                fed = nn.functional.pad(block[..., None], (0, x.shape[-1] - 1))
                x = torch.cat([x, fed], dim=1)[:, -self.window :]
        return torch.cat(blocks, dim=1)[:, : self.h]

    def _intervals(
        self,
        x: torch.Tensor,
        values: torch.Tensor,
        scaled: torch.Tensor | None,
        scale: torch.Tensor,
        shift: torch.Tensor,
        spread: torch.Tensor | None,
    ) -> torch.Tensor:
        """The bounds (B, h, 2 * levels), as :func:`lstmcast.intervals.bounds` makes them;
        ``x`` (B, window, features) is the networks' input window, ``scaled`` the learned
        quantiles, ``spread`` (B,) each row's series' spread in training (or None)."""
        lows: dict[int, torch.Tensor] = {}
        highs: dict[int, torch.Tensor] = {}
        for k, (low, high) in enumerate(self.learned):
            lows[k] = scaled[..., low] * scale + shift
            highs[k] = scaled[..., high] * scale + shift
        if self.corrections is not None:
            unit = scale  # (B, 1): series units per score
            if self.window_unit:
                window_spread = seasonal_spread(x, self.season_length, self.masked)
                unit = unit * score_unit(window_spread, spread)[:, None]
            for k in range(len(self.levels)):
                correction = self.corrections[k][None, :] * unit  # (B, h)
                lows[k] = torch.minimum(lows.get(k, values) - correction, values)
                highs[k] = torch.maximum(highs.get(k, values) + correction, values)
        for k in range(1, len(self.levels)):  # nested: 95% holds the 80% one
            lows[k] = torch.minimum(lows[k], lows[k - 1])
            highs[k] = torch.maximum(highs[k], highs[k - 1])
        widest_first = range(len(self.levels) - 1, -1, -1)
        ordered = [lows[k] for k in widest_first] + [highs[k] for k in range(len(self.levels))]
        return torch.stack(ordered, dim=-1)


def export_onnx(
    model: Any,
    path: str | os.PathLike[str],
    h: int | None = None,
    level: Sequence[float] | None = None,
) -> OnnxContract:
    """Write fitted ``model`` (an LSTMForecaster) to ``path`` as ONNX; return its contract.

    ``h``: steps per row (default the model's ``horizon``; beyond it, recursive, point forecast
    only). ``level``: interval levels, as ``predict(level=...)`` takes them (learned ones of a
    model with quantile heads, else conformal ones of a model trained with ``val_size``); None:
    the point forecast only. The file is checked by ``onnx.checker`` and written atomically.
    """
    from .covariates import spec_of

    onnx = require_onnx()
    graph = forecast_graph(model, h, level)
    spec = spec_of(model.settings_)
    contract = OnnxContract(
        series_ids=[str(i) for i in model.scaler_.ids],
        window=model.window,
        h=graph.h,
        horizon=model.horizon,
        levels=graph.levels,
        interval_columns=_interval_names(model.alias, graph.levels),
        intervals=_how_intervals(model, graph.levels),
        settings=model.settings_,
        lstmcast_version=_version(),
        covariate_columns=list(spec.dynamic),
        future_columns=list(spec.futr),
        static_columns=list(spec.static),
    )
    proto = _traced(graph)
    for key, value in contract.metadata().items():
        proto.metadata_props.add(key=key, value=value)
    proto.producer_name, proto.producer_version = "lstmcast", contract.lstmcast_version
    proto.doc_string = "\n".join(contract.lines())
    onnx.checker.check_model(proto, full_check=True)
    from .files import atomic_path

    with atomic_path(path) as tmp:
        onnx.save_model(proto, str(tmp))
    return contract


def forecast_graph(
    model: Any, h: int | None = None, level: Sequence[float] | None = None
) -> ForecastGraph:
    """The torch module an export of fitted ``model`` holds (``h``, ``level`` as there), on the
    CPU with copies of the networks: what the file computes, runnable in torch (benchmarks
    time the two side by side)."""
    from .covariates import spec_of

    model._check_fitted()
    _refuse_calendar(model)
    h = check_h(model.horizon if h is None else h)
    spec = spec_of(model.settings_)
    refuse_recursion(h, model.horizon, (), spec)  # covariates cannot be fed back
    levels = model._check_levels(level, h)
    calibrated = getattr(model, "calibration_", None) is not None
    if levels:
        check_interval_request(levels, h, model.horizon, model.quantile_levels, calibrated)
    networks = [copy.deepcopy(network).cpu().eval() for network in model.networks_]
    corrections = None
    if levels and calibrated:
        # One calibration row per learned level, or one row of |error| for every level.
        table, size, learned = model.calibration_, model.calibration_size_, model.quantile_levels
        corrections = np.stack(
            [
                conformal_quantile(table, size, learned.index(lv) if learned else 0, lv, h)
                for lv in levels
            ]
        )
    return ForecastGraph(
        networks,
        model.scaler_.shift,
        model.scaler_.scale,
        window=model.window,
        horizon=model.horizon,
        h=h,
        quantiles=model._network_quantiles() if levels else (),
        levels=levels,
        corrections=corrections,
        season_length=model.season_length,
        window_unit=model.calibration_scale_ == "window",
        covariates=_covariates(model, spec) if spec else None,
        masked=model.missing == "mask",
        log_target=model.target_transform == "log",
        combine=model.ensemble_combine,
        spread=model.scaler_.spread,
    )


def _covariates(model: Any, spec: Any) -> Covariates:
    """The scaling of ``model``'s time-varying covariates (CovariateSpec ``spec``), and each
    series' static ones as saved with it (rows in the scaler's order, as the tail's)."""
    dynamic = len(spec.dynamic)
    tail = model.tail_
    static = tail.covariates[tail.starts[:-1], dynamic:] if spec.static else None
    return Covariates(
        hist=len(spec.hist),
        futr=len(spec.futr),
        shift=model.covariate_scaler_.shift[:, :dynamic],
        scale=model.covariate_scaler_.scale[:, :dynamic],
        static=static,
    )


def _refuse_calendar(model: Any) -> None:
    """Calendar features are computed from each step's local time, which the graph does not
    take (a time zone's clock changes are not arithmetic)."""
    if model._calendar():
        raise ConfigError(
            f"this model reads calendar features ({setting('calendar')} "
            f"{list(model._calendar())}), computed from each step's local time; the exported "
            "graph takes no times: export a model trained without them (future-known "
            f"covariates, {setting('futr_cols')}, can carry the same information)"
        )


def _interval_names(alias: str, levels: list[float]) -> list[str]:
    lows = [interval_column(alias, "lo", level) for level in reversed(levels)]
    return lows + [interval_column(alias, "hi", level) for level in levels]


def _how_intervals(model: Any, levels: list[float]) -> str:
    calibrated = getattr(model, "calibration_", None) is not None
    if not levels:
        return "none"
    if model.quantile_levels:
        return "learned quantiles, conformalized" if calibrated else "learned quantiles"
    return "split conformal"


def _version() -> str:
    from . import __version__

    return __version__


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """torch's exporter logs its progress and warns about its own internals (deprecations,
    torchvision missing): none of it concerns the caller, whose warnings may be errors."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _traced(graph: ForecastGraph) -> Any:
    """The ONNX ModelProto of ``graph``, traced on two example rows, batch dimension dynamic."""
    rows = 2
    example = [torch.zeros(rows, dtype=torch.int64), torch.ones(rows, graph.window).double()]
    if graph.hist + graph.futr:
        example.append(torch.ones(rows, graph.window, graph.hist + graph.futr).double())
    if graph.futr:
        example.append(torch.ones(rows, graph.h, graph.futr).double())
    batch = torch.export.Dim("batch")
    outputs = list(OUTPUT_NAMES if graph.levels else OUTPUT_NAMES[:1])
    with _quiet_exporter(), torch.no_grad():
        program = torch.onnx.export(
            graph,
            tuple(example),
            dynamo=True,
            input_names=graph.input_names,
            output_names=outputs,
            opset_version=OPSET,
            dynamic_shapes=tuple({0: batch} for _ in example),
            verbose=False,
        )
    proto = program.model_proto
    for node in proto.graph.node:
        # The exporter's notes on each node (source lines, file paths of this machine) are for
        # debugging the exporter; they would be most of a small model's file.
        del node.metadata_props[:]
        node.doc_string = ""
    return proto

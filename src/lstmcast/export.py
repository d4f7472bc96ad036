"""Export a fitted LSTM forecaster to ONNX: raw windows in, raw forecasts (and intervals) out.

Where it sits: after fit (windows -> model -> *forecast*), beside ``predict``. The exported graph
does for each row what ``predict`` does for one series' last window: the per-series scaling
(the fitted ``scaler_`` statistics, embedded as constants and picked by a series index), the
window normalisation, segment embedding and seasonal baseline inside each network, every
ensemble member and their median, the learned quantile heads and the conformal calibration of
the intervals, then the de-scaling. A server that has a series' last ``window`` raw values and
its index (the order is in the model's metadata) gets the numbers ``predict`` would give.

The contract of the ``.onnx`` file (:class:`OnnxContract`; also in its ``metadata_props``):

- input ``series``: int64 (batch,), each row's series, its position in ``series_ids`` (0 to
  n - 1; an index outside is an error of the runtime, a negative one counts from the end);
- input ``window``: float64 (batch, window), each row's last ``window`` raw values, oldest first;
- output ``forecast``: float64 (batch, h), the point forecast (``predict``'s ``LSTM`` column);
- output ``intervals`` (only when levels are exported): float64 (batch, h, 2 * levels), the
  bounds in ascending order, lowest first: ``LSTM-lo-95, LSTM-lo-80, LSTM-hi-80, LSTM-hi-95``.

The batch dimension is dynamic; ``window`` and ``h`` are fixed when exporting. Exported with
torch's own exporter (``torch.onnx.export(..., dynamo=True)``, which maps ``lc.LSTM`` onto
ONNX's LSTM operator) at opset :data:`OPSET`; onnx, onnxscript and onnxruntime are the optional
extra ``lstmcast[onnx]``. Values go in and out as float64, as ``predict`` scales and de-scales
them; the networks run in float32, as in torch.

Not exported (refused with a ConfigError saying why): calendar features and covariates (inputs
the graph does not take), intervals past the ``horizon`` (the calibration covers the horizon).
Forecasts past the ``horizon`` are exported as ``predict`` makes them: each block fed back as
the newest inputs, unrolled in the graph.
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
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from .checks import check_h
from .columns import interval_column
from .errors import ConfigError, setting
from .forecasting import median_forecast, quantile_forecast, window_scale
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
INPUT_NAMES = ("series", "window")
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
    opset: int = OPSET
    format_version: int = FORMAT_VERSION

    @property
    def inputs(self) -> dict[str, str]:
        n = len(self.series_ids)
        return {
            "series": f"int64 (batch,): each row's series, its index 0..{n - 1} in series_ids",
            "window": f"float64 (batch, {self.window}): each row's last {self.window} raw "
            "values, oldest first",
        }

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
        if self.levels:
            lines.append(f"intervals {self.intervals}")
        lines.append(f"opset  {self.opset}")
        return lines


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


class ForecastGraph(nn.Module):
    """``predict`` for one window per row, in torch operations the ONNX exporter can trace.

    ``forward(series (B,) int64, window (B, window) float64)`` -> ``forecast`` (B, h) float64,
    and with ``levels`` also ``intervals`` (B, h, 2 * levels) float64, lowest bound first.

    Parameters
    ----------
    networks : the ensemble (their median is the forecast), on the CPU, in evaluation mode.
    shift, scale : (n,) the per-series scaling, ``(y - shift) / scale``.
    window, horizon, h : input length, steps each network emits, steps forecast (h > horizon:
        recursive, the point forecast only).
    quantiles : the heads' learned quantiles besides the median (empty: no heads).
    levels : interval levels, ascending.
    corrections : (levels, h) the conformal correction of each level in score units, or None
        for a model without calibration.
    season_length, window_unit : scores are in units of each window's mean absolute seasonal
        difference (``window_unit``) or of the series' scale alone (models saved before).
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
    ) -> None:
        super().__init__()
        self.networks = nn.ModuleList(networks)
        self.register_buffer("shift", torch.as_tensor(shift, dtype=torch.float64))
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float64))
        if corrections is not None:
            corrections = torch.as_tensor(corrections, dtype=torch.float64)
        self.register_buffer("corrections", corrections)  # None: not calibrated
        self.window, self.horizon, self.h = window, horizon, h
        self.levels, self.season_length, self.window_unit = levels, season_length, window_unit
        self.learned = [interval_columns(quantiles, level) for level in levels] if quantiles else []
        self.median_column = quantile_columns(quantiles).index(0.5) if quantiles else None

    def forward(
        self, series: torch.Tensor, window: torch.Tensor
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        shift = self.shift[series][:, None]  # (B, 1)
        scale = self.scale[series][:, None]
        # As predict: scaled in float64, then float32 for the networks (B, window, 1).
        x = ((window - shift) / scale).float()[..., None]
        if not self.levels:
            return self._recursive(x).double() * scale + shift
        if self.learned:
            scaled = quantile_forecast(self.networks, x).double()[:, : self.h]  # (B, h, Q + 1)
            values = scaled[..., self.median_column] * scale + shift
        else:
            scaled = None
            values = median_forecast(self.networks, x).double()[:, : self.h] * scale + shift
        return values, self._intervals(x, values, scaled, scale, shift)

    def _recursive(self, x: torch.Tensor) -> torch.Tensor:
        """``h`` steps (B, h) in scaled units, block by block as ``scaled_forecast`` feeds
        each block back as the newest inputs."""
        blocks = []
        for done in range(0, self.h, self.horizon):
            block = median_forecast(self.networks, x)  # (B, horizon)
            blocks.append(block)
            if done + self.horizon < self.h:
                x = torch.cat([x, block[..., None]], dim=1)[:, -self.window :]
        return torch.cat(blocks, dim=1)[:, : self.h]

    def _intervals(
        self,
        x: torch.Tensor,
        values: torch.Tensor,
        scaled: torch.Tensor | None,
        scale: torch.Tensor,
        shift: torch.Tensor,
    ) -> torch.Tensor:
        """The bounds (B, h, 2 * levels), as :func:`lstmcast.intervals.bounds` makes them."""
        lows: dict[int, torch.Tensor] = {}
        highs: dict[int, torch.Tensor] = {}
        for k, (low, high) in enumerate(self.learned):
            lows[k] = scaled[..., low] * scale + shift
            highs[k] = scaled[..., high] * scale + shift
        if self.corrections is not None:
            unit = scale  # (B, 1): series units per score
            if self.window_unit:
                unit = unit * window_scale(x, self.season_length)[:, None]
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
    onnx = require_onnx()
    graph = forecast_graph(model, h, level)
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
    )
    proto = _traced(graph, model.window, bool(graph.levels))
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
    model._check_fitted()
    _refuse_unexported_inputs(model)
    h = check_h(model.horizon if h is None else h)
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
    )


def _refuse_unexported_inputs(model: Any) -> None:
    """Calendar features and covariates are inputs the exported graph does not take."""
    from .covariates import spec_of

    if model._calendar():
        raise ConfigError(
            f"this model reads calendar features ({setting('calendar')} "
            f"{list(model._calendar())}), computed from each step's local time; the exported "
            "graph takes raw values only: export a model trained without them"
        )
    spec = spec_of(model.settings_)
    if spec:
        kinds = [
            (name, cols)
            for name, cols in (
                ("futr_cols", spec.futr),
                ("hist_cols", spec.hist),
                ("static_cols", spec.static),
            )
            if cols
        ]
        named = ", ".join(f"{setting(name)} {list(cols)}" for name, cols in kinds)
        raise ConfigError(
            f"this model reads covariates ({named}); the exported graph takes the target's "
            "raw values only: export a model trained without covariates"
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


def _traced(graph: ForecastGraph, window: int, intervals: bool) -> Any:
    """The ONNX ModelProto of ``graph``, traced on two example rows, batch dimension dynamic."""
    example = (torch.zeros(2, dtype=torch.int64), torch.ones(2, window, dtype=torch.float64))
    batch = torch.export.Dim("batch")
    outputs = list(OUTPUT_NAMES if intervals else OUTPUT_NAMES[:1])
    with _quiet_exporter(), torch.no_grad():
        program = torch.onnx.export(
            graph,
            example,
            dynamo=True,
            input_names=list(INPUT_NAMES),
            output_names=outputs,
            opset_version=OPSET,
            dynamic_shapes=({0: batch}, {0: batch}),
            verbose=False,
        )
    proto = program.model_proto
    for node in proto.graph.node:
        # The exporter's notes on each node (source lines, file paths of this machine) are for
        # debugging the exporter; they would be most of a small model's file.
        del node.metadata_props[:]
        node.doc_string = ""
    return proto

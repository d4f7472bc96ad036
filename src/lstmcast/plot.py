"""Matplotlib plots: forecasts, training curves, LSTM gate activity and its memory reach.

Every function builds its own :class:`matplotlib.figure.Figure` instead of going through
``matplotlib.pyplot``: no global figure registry, no GUI backend, nothing to close, safe on
headless machines and in threads. A saved figure is rendered by the Agg canvas.

Each function returns the figure and, when ``path`` is given, also writes it atomically (a reader
never sees a half-written image) in the format its suffix names (.png, .pdf, .svg, ...).
``plot_forecast`` and ``plot_history`` accept an ``ax`` to draw into, so several plots can share
one figure; they then return the axes' figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, MaxNLocator

from .columns import NOT_MODELS, parse_interval
from .errors import DataError
from .files import atomic_path, image_format

if TYPE_CHECKING:
    import os

    import torch
    from matplotlib.axes import Axes

    from .experiment import AddingResult

__all__ = [
    "GateTraceLike",
    "memory_reach",
    "plot_adding",
    "plot_forecast",
    "plot_gates",
    "plot_history",
]

_DPI = 120
_DEFAULT_MAX_SERIES = 4
# Series ids named in an error about ids.
_NAMED_IDS = 5
# A unit whose mean forget gate over the window is above this keeps its cell state: "long memory".
LONG_MEMORY_FORGET = 0.9
# A unit's memory reaches back as long as the product of its forget gates stays above 1/e: for a
# constant gate, its time constant (see memory_reach).
_REACH_RETENTION = float(np.exp(-1.0))
_MAX_INPUT_FEATURES = 10
# (trace attribute, panel title, colour scaling): the forget gate first, as it is the one that
# decides how long the cell remembers.
_GATE_PANELS = (
    ("forget", "forget gate f (0..1)", "gate"),
    ("input", "input gate i (0..1)", "gate"),
    ("candidate", "candidate g (-1..1)", "tanh"),
    ("output", "output gate o (0..1)", "gate"),
    ("cell", "cell state c (symmetric)", "cell"),
    ("hidden", "hidden state h (-1..1)", "tanh"),
)


class GateTraceLike(Protocol):
    """What :func:`plot_gates` reads, e.g. :class:`lstmcast.lstm.GateTrace`.

    Each attribute is a tensor or array shaped (num_layers, batch, time, hidden); ``hidden`` may
    be missing or ``None``. A mapping with these keys works too.
    """

    input: torch.Tensor | np.ndarray
    forget: torch.Tensor | np.ndarray
    candidate: torch.Tensor | np.ndarray
    output: torch.Tensor | np.ndarray
    cell: torch.Tensor | np.ndarray
    hidden: torch.Tensor | np.ndarray | None


# --------------------------------------------------------------------------------------------
# shared helpers


def _save(fig: Figure, path: str | os.PathLike[str] | None) -> Figure:
    if path is not None:
        # The temporary file ends in ".tmp", so the format is named from the path's suffix.
        kind = image_format(path, what="path")
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=kind, dpi=_DPI)
    return fig


def _root_figure(ax: Axes) -> Figure:
    # ax.figure is a SubFigure when the caller composes with subfigures; only the root figure
    # can be saved. ``.figure`` of a Figure is itself, of a SubFigure the root.
    return ax.figure.figure  # type: ignore[return-value]


def _field(obj: object, name: str) -> Any:
    """``obj[name]`` for a mapping, else ``obj.name``, else ``obj[name]``; ``None`` if absent."""
    if isinstance(obj, Mapping):
        return obj.get(name)
    if hasattr(obj, name):
        return getattr(obj, name)
    try:
        return obj[name]  # type: ignore[index]
    except (KeyError, IndexError, TypeError):
        return None


def _to_numpy(values: Any) -> np.ndarray:
    """A float numpy array from a tensor (any device, with or without grad) or array-like."""
    if hasattr(values, "detach"):
        values = values.detach().cpu()
        try:
            values = values.numpy()
        except TypeError:
            # numpy has no bfloat16: widen first.
            values = values.float().numpy()
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"expected numbers, got {type(values).__name__}: {exc}") from exc


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


# --------------------------------------------------------------------------------------------
# plot_forecast


def _check_frame(frame: object, name: str, required: Sequence[str]) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise DataError(
            f"{name} must be a pandas DataFrame with columns {list(required)}, "
            f"got {type(frame).__name__}"
        )
    missing = [col for col in required if col not in frame.columns]
    if missing:
        raise DataError(
            f"{name} is missing column(s) {missing}; it has {list(frame.columns)[:12]}. "
            f"Rename its columns to {list(required)}."
        )
    return frame


def _check_numeric(frame: pd.DataFrame, column: str, name: str) -> None:
    col = frame[column]
    if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        raise DataError(
            f"{name}[{column!r}] must hold numbers, got dtype {col.dtype}; "
            f"convert it with pd.to_numeric."
        )


def _ds_kind(frame: pd.DataFrame, name: str) -> str | None:
    """``"datetime"`` or ``"number"``; ``None`` for an empty frame (its dtype says nothing)."""
    if frame.empty:
        return None
    ds = frame["ds"]
    if pd.api.types.is_datetime64_any_dtype(ds):
        return "datetime"
    if pd.api.types.is_numeric_dtype(ds) and not pd.api.types.is_bool_dtype(ds):
        return "number"
    raise DataError(
        f"{name}['ds'] must be datetime64 or integer, got dtype {ds.dtype}; "
        f"convert it with pd.to_datetime or astype(int)."
    )


def _wall_clock(times: pd.Series) -> pd.Series:
    """Times as they read, without a time zone (as drawn), so that any two compare."""
    if isinstance(times.dtype, pd.DatetimeTZDtype):
        return times.dt.tz_localize(None)
    return times


def _zone(times: pd.Series) -> Any:
    return times.dt.tz if isinstance(times.dtype, pd.DatetimeTZDtype) else None


def _one_zone(
    hist: pd.DataFrame | None,
    fc: pd.DataFrame,
    test: pd.DataFrame | None,
    actual: pd.DataFrame | None,
) -> tuple[pd.DataFrame | None, pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None]:
    """The frames with their times in one zone (the history's, else the forecast's).

    Times are drawn and compared as wall-clock times, so zone-aware frames in different zones
    are converted (an exact change of clock); a zone-aware frame beside a naive one is refused,
    since which instant a naive time is cannot be known.
    """
    columns = {"history": ("ds",), "forecast": ("ds", "cutoff"), "test": ("ds",)}
    frames = {"history": hist, "forecast": fc, "test": test}
    zones = {
        f"{name}[{column!r}]": _zone(frame[column])
        for name, frame in frames.items()
        if frame is not None and not frame.empty
        for column in columns[name]
        if column in frame.columns and pd.api.types.is_datetime64_any_dtype(frame[column])
    }
    naive = [where for where, zone in zones.items() if zone is None]
    aware = {where: zone for where, zone in zones.items() if zone is not None}
    if not aware:
        return hist, fc, test, actual
    if naive:
        where, zone = next(iter(aware.items()))
        raise DataError(
            f"{naive[0]} has times without a time zone, but {where} is in {str(zone)!r}: which "
            "instants the naive times are cannot be known; give both in one zone "
            "(tz_localize the naive times)."
        )
    target = next(iter(aware.values()))
    converted: dict[str, pd.DataFrame | None] = {}
    for name, frame in frames.items():
        if frame is not None and any(f"{name}[{c!r}]" in aware for c in columns[name]):
            frame = frame.copy()
            for column in columns[name]:
                if f"{name}[{column!r}]" in aware:
                    frame[column] = frame[column].dt.tz_convert(target)
        converted[name] = frame
    if test is not None:
        actual = converted["test"]
    elif actual is fc:  # the forecast frame's own y
        actual = converted["forecast"]
    return converted["history"], converted["forecast"], converted["test"], actual


def _few(ids: pd.Series) -> str:
    """The first few of ``ids`` and how many there are: ``'a', 'b', ... (12 series)``."""
    shown = ", ".join(repr(uid) for uid in ids.iloc[:_NAMED_IDS])
    return (shown + ", ..." if len(ids) > _NAMED_IDS else shown) + f" ({len(ids)} series)"


def _check_against_history(history: pd.DataFrame, forecast: pd.DataFrame) -> None:
    """Refuse a forecast that cannot be of ``history``: of other series, or of other times.

    A forecast past the end (no ``cutoff``) must start after the end of each series' history; a
    backtest (with ``cutoff``) lies inside the history, each row after its cutoff.
    """
    history_ids = history["unique_id"].drop_duplicates()
    forecast_ids = forecast["unique_id"].drop_duplicates()
    shared = forecast_ids[forecast_ids.isin(history_ids)]
    if shared.empty:
        raise DataError(
            f"forecast and history share no series: the forecast has {_few(forecast_ids)}, the "
            f"history {_few(history_ids)}. Plot a forecast with the history it was made from."
        )
    ds = _wall_clock(forecast["ds"])
    if "cutoff" in forecast.columns:
        cutoff = forecast["cutoff"]
        types = pd.api.types
        numbers = types.is_numeric_dtype(cutoff) and not types.is_bool_dtype(cutoff)
        like_ds = (
            types.is_datetime64_any_dtype(cutoff) if types.is_datetime64_any_dtype(ds) else numbers
        )
        if not like_ds:
            raise DataError(
                f"forecast['cutoff'] must hold times like its ds ({ds.dtype}), got dtype "
                f"{cutoff.dtype}."
            )
        early = (ds <= _wall_clock(cutoff)).to_numpy()
        if early.any():
            row = int(np.argmax(early))
            raise DataError(
                f"forecast row {row} (series {forecast['unique_id'].iloc[row]!r}) is for ds "
                f"{ds.iloc[row]}, not after its cutoff {cutoff.iloc[row]}: a backtest forecasts "
                "the times after each cutoff."
            )
        return
    ends = _wall_clock(history["ds"]).groupby(history["unique_id"], sort=False).max()
    of_shared = forecast["unique_id"].isin(shared).to_numpy()
    starts = ds[of_shared].groupby(forecast["unique_id"][of_shared], sort=False).min()
    inside = starts <= ends.reindex(starts.index)
    if inside.any():
        uid = inside.index[int(np.argmax(inside.to_numpy()))]
        raise DataError(
            f"the forecast of series {uid!r} starts at {starts[uid]}, not after the end of its "
            f"history ({ends[uid]}): plot a forecast made past the end of this history, or a "
            "backtest frame (with its cutoff column), whose forecasts lie inside it."
        )


def _x(ds: pd.Series) -> np.ndarray:
    # Plot wall-clock time: drop the time zone instead of converting to UTC, so the axis reads
    # like the data. numpy datetime64 goes through matplotlib's own date converter.
    if isinstance(ds.dtype, pd.DatetimeTZDtype):
        ds = ds.dt.tz_localize(None)
    return ds.to_numpy()


def _y(values: pd.Series) -> np.ndarray:
    # Nullable dtypes hold pd.NA, which matplotlib cannot draw: map it to NaN (a gap).
    return values.to_numpy(dtype=float, na_value=np.nan)


def _resolve_models(forecast: pd.DataFrame, models: str | Sequence[str] | None) -> list[str]:
    intervals = {c for c in forecast.columns if parse_interval(c) is not None}
    candidates = [c for c in forecast.columns if c not in NOT_MODELS and c not in intervals]
    if models is None:
        # Predictions are floats; integer extras (a horizon counter, ...) are not models.
        chosen = [c for c in candidates if pd.api.types.is_float_dtype(forecast[c])]
        if not chosen:
            raise DataError(
                "forecast has no model column: expected a float column per model (e.g. 'LSTM') "
                f"besides unique_id, ds, cutoff and y; it has {list(forecast.columns)[:12]}."
            )
        return chosen
    chosen = [models] if isinstance(models, str) else list(models)
    if not chosen:
        raise DataError("models is empty: pass at least one model column, or None for all.")
    unknown = [m for m in chosen if m not in candidates]
    if unknown:
        raise DataError(
            f"model column(s) {unknown} not in forecast; its model columns are {candidates[:12]}."
        )
    for model in chosen:
        _check_numeric(forecast, model, "forecast")
    return list(dict.fromkeys(chosen))


def _interval_levels(forecast: pd.DataFrame, model: str) -> list[tuple[str, str, str]]:
    """``(lo column, hi column, level)`` of ``model``, widest level first."""
    sides: dict[str, dict[str, str]] = {"lo": {}, "hi": {}}
    for col in forecast.columns:
        interval = parse_interval(col)
        if interval is not None and interval[0] == model:
            sides[interval[1]][interval[2]] = col
    for have, lack in (("lo", "hi"), ("hi", "lo")):
        unpaired = sorted(sides[have].keys() - sides[lack].keys(), key=float)
        if unpaired:
            level = unpaired[0]
            raise DataError(
                f"forecast has {sides[have][level]!r} but no '{model}-{lack}-{level}': "
                "an interval needs both bounds."
            )
    levels = sorted(sides["lo"], key=float, reverse=True)
    for level in levels:
        _check_numeric(forecast, sides["lo"][level], "forecast")
        _check_numeric(forecast, sides["hi"][level], "forecast")
    return [(sides["lo"][lv], sides["hi"][lv], lv) for lv in levels]


def _resolve_ids(forecast: pd.DataFrame, ids: object) -> list[Any]:
    available = forecast["unique_id"].drop_duplicates().tolist()
    if ids is None:
        return available[:_DEFAULT_MAX_SERIES]
    chosen = [ids] if isinstance(ids, str) or np.isscalar(ids) else list(ids)  # type: ignore[call-overload]
    if not chosen:
        raise DataError("ids is empty: pass at least one unique_id, or None for the first 4.")
    known = set(available)
    unknown = [uid for uid in chosen if uid not in known]
    if unknown:
        raise DataError(
            f"unique_id {unknown[0]!r} is not in forecast"
            + (f" (nor {unknown[1:4]})" if len(unknown) > 1 else "")
            + f"; it has {len(available)} series, e.g. {available[:5]}."
        )
    return list(dict.fromkeys(chosen))


def _one_row_per_ds(frame: pd.DataFrame) -> pd.DataFrame:
    if "cutoff" in frame.columns:
        # Backtests forecast each date from several origins; keep the latest origin's value, the
        # shortest horizon, so the result is one line (one-step-ahead when every step is an origin).
        frame = frame.sort_values(["ds", "cutoff"], kind="stable")
        return frame.drop_duplicates("ds", keep="last")
    return frame.sort_values("ds", kind="stable")


def _format_x(ax: Axes, kind: str | None) -> None:
    if kind == "datetime":
        locator = mdates.AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    elif kind == "number":
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _draw_series(
    ax: Axes,
    uid: object,
    history: pd.DataFrame | None,
    forecast: pd.DataFrame,
    actual: pd.DataFrame | None,
    models: list[str],
    bands: dict[str, list[tuple[str, str, str]]],
    max_history: int | None,
) -> None:
    if history is not None:
        hist = history.loc[history["unique_id"] == uid].sort_values("ds", kind="stable")
        if max_history is not None:
            hist = hist.iloc[len(hist) - min(max_history, len(hist)) :]
        if len(hist):
            ax.plot(_x(hist["ds"]), _y(hist["y"]), color="0.25", lw=1.2, label="history")

    fc = _one_row_per_ds(forecast.loc[forecast["unique_id"] == uid])
    x = _x(fc["ds"])
    # A single-step forecast is one point, invisible as a bare line.
    marker = "o" if len(fc) == 1 else None
    for i, model in enumerate(models):
        color = f"C{i % 10}"
        levels = bands[model]
        # Wider intervals are drawn first and lighter, so nested bands stay readable.
        alphas = np.linspace(0.12, 0.3, len(levels)) if len(levels) > 1 else [0.2] * len(levels)
        for alpha, (lo, hi, level) in zip(alphas, levels, strict=True):
            ax.fill_between(
                x, _y(fc[lo]), _y(fc[hi]), color=color, alpha=alpha, lw=0, label=f"{model} {level}%"
            )
        ax.plot(x, _y(fc[model]), color=color, lw=1.5, marker=marker, ms=4, label=model)

    if actual is not None:
        act = actual.loc[actual["unique_id"] == uid]
        act = _one_row_per_ds(act) if actual is forecast else act.sort_values("ds", kind="stable")
        if len(act):
            ax.plot(
                _x(act["ds"]),
                _y(act["y"]),
                color="black",
                ls="--",
                lw=1.0,
                marker="o",
                ms=2.5,
                label="actual",
                zorder=3,
            )

    ax.set_title(str(uid))
    ax.set_xlabel("ds")
    ax.set_ylabel("y")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        # Outside the axes: inside, it would cover the history or the bands; constrained layout
        # makes room for it. (loc="best" is slow on long histories and warns when it is.)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")


def plot_forecast(
    history: pd.DataFrame | None,
    forecast: pd.DataFrame,
    *,
    test: pd.DataFrame | None = None,
    ids: Sequence[Any] | str | None = None,
    models: Sequence[str] | str | None = None,
    max_history: int | None = None,
    path: str | os.PathLike[str] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Plot history, forecasts, prediction intervals and actuals, one axes per series.

    Parameters
    ----------
    history : DataFrame or None
        Long frame (``unique_id``, ``ds``, ``y``), n_rows; may hold more series than are drawn.
    forecast : DataFrame
        ``unique_id``, ``ds``, one float column per model, optionally ``cutoff``, ``y`` and
        interval columns ``{model}-lo-{level}`` / ``{model}-hi-{level}`` (drawn as bands, wider
        levels lighter). With ``cutoff`` (a backtest), each date keeps the latest cutoff's row.
    test : DataFrame, optional
        Actuals over the forecast period (``unique_id``, ``ds``, ``y``). Without it, a ``y``
        column of ``forecast`` is drawn as the actuals.
    ids : sequence or str, optional
        Series to draw, in order; default the first 4 of ``forecast``.
    models : sequence or str, optional
        Model columns to draw; default every float column that is not reserved or an interval.
    max_history : int, optional
        Draw only the last ``max_history`` points of each history.
    path : path-like, optional
        Also save the figure there (atomically), in the format its suffix names (.png, .pdf,
        .svg, ...).
    ax : Axes, optional
        Draw the first of ``ids`` into this axes instead of a new figure.
    title : str, optional
        Figure title (with ``ax``: prefix of the axes title).

    Returns
    -------
    Figure
        The new figure, or ``ax``'s figure.

    Raises
    ------
    DataError
        Missing columns, an unknown id or model, an interval with one bound, mixed ``ds``
        types, or a forecast that cannot be of ``history``: no series in common, or (without
        ``cutoff``) one that does not start after its series' history ends; with ``cutoff`` (a
        backtest), a row not after its cutoff.
    """
    fc = _check_frame(forecast, "forecast", ("unique_id", "ds"))
    if fc.empty:
        raise DataError("forecast is empty: nothing to plot.")
    hist = None if history is None else _check_frame(history, "history", ("unique_id", "ds", "y"))
    if test is not None:
        actual = _check_frame(test, "test", ("unique_id", "ds", "y"))
    elif "y" in fc.columns:
        actual = fc
    else:
        actual = None
    for frame, name in ((hist, "history"), (actual, "test" if test is not None else "forecast")):
        if frame is not None:
            _check_numeric(frame, "y", name)
    if max_history is not None and (not _is_int(max_history) or max_history < 0):
        raise DataError(f"max_history must be a non-negative integer or None, got {max_history!r}.")

    kinds = {
        name: kind
        for frame, name in ((fc, "forecast"), (hist, "history"), (test, "test"))
        if frame is not None and (kind := _ds_kind(frame, name)) is not None
    }
    if len(set(kinds.values())) > 1:
        raise DataError(
            f"ds types differ between frames ({kinds}); use datetime64 in all of them or "
            "integers in all of them."
        )
    kind = next(iter(kinds.values()), None)
    if kind == "datetime":
        hist, fc, test, actual = _one_zone(hist, fc, test, actual)
    if hist is not None:
        _check_against_history(hist, fc)

    model_cols = _resolve_models(fc, models)
    bands = {model: _interval_levels(fc, model) for model in model_cols}
    series = _resolve_ids(fc, ids)

    if ax is not None:
        # One axes holds one series; composing several is the caller's layout.
        uid = series[0]
        _draw_series(ax, uid, hist, fc, actual, model_cols, bands, max_history)
        if title:
            ax.set_title(f"{title}: {uid}")
        _format_x(ax, kind)
        return _save(_root_figure(ax), path)

    fig = Figure(figsize=(10, 0.6 + 2.8 * len(series)), layout="constrained")
    axes = fig.subplots(len(series), 1, squeeze=False)[:, 0]
    for uid, series_ax in zip(series, axes, strict=True):
        _draw_series(series_ax, uid, hist, fc, actual, model_cols, bands, max_history)
        _format_x(series_ax, kind)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


# --------------------------------------------------------------------------------------------
# plot_history


def _loss_array(values: object, name: str) -> np.ndarray:
    if values is None:
        return np.empty(0)
    arr = _to_numpy(values)
    if arr.ndim != 1:
        raise DataError(
            f"history[{name!r}] must be a flat list of per-epoch losses, got {arr.shape}."
        )
    return arr


def plot_history(
    history: Mapping[str, Sequence[float] | None] | object,
    *,
    path: str | os.PathLike[str] | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Plot training and validation loss per epoch and mark the best validation epoch.

    Parameters
    ----------
    history : mapping or object
        ``train_loss`` (n_epochs floats) and ``val_loss`` (n_epochs floats, or ``None``/empty
        without validation), as keys or attributes. The y axis is logarithmic when the positive
        losses span more than two decades.
    path : path-like, optional
        Also save the figure there (atomically), in the format its suffix names (.png, .pdf,
        .svg, ...).
    ax : Axes, optional
        Draw into this axes instead of a new figure.

    Returns
    -------
    Figure
        The new figure, or ``ax``'s figure.

    Raises
    ------
    DataError
        ``train_loss`` missing or empty, or a loss list that is not flat numbers.
    """
    train = _loss_array(_field(history, "train_loss"), "train_loss")
    if train.size == 0:
        raise DataError(
            "history has no train_loss: expected {'train_loss': [...], 'val_loss': [...]} with "
            "one value per epoch; train for at least one epoch."
        )
    val = _loss_array(_field(history, "val_loss"), "val_loss")

    if ax is None:
        fig = Figure(figsize=(7, 4), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = _root_figure(ax)

    # Markers show individual epochs when there are few of them; many would be a smear.
    marker = "o" if max(train.size, val.size) <= 30 else None
    ax.plot(np.arange(1, train.size + 1), train, color="C0", marker=marker, ms=3, label="train")
    if val.size:
        ax.plot(np.arange(1, val.size + 1), val, color="C1", marker=marker, ms=3, label="val")
        finite = np.isfinite(val)
        if finite.any():
            best = int(np.argmin(np.where(finite, val, np.inf)))
            ax.axvline(best + 1, color="C1", ls=":", lw=1)
            ax.plot(
                best + 1,
                val[best],
                marker="*",
                ms=12,
                color="C1",
                ls="none",
                label=f"best val: epoch {best + 1} ({val[best]:.4g})",
            )

    losses = np.concatenate([train, val])
    losses = losses[np.isfinite(losses)]
    # Log scale only when every loss is positive: a zero cannot be placed on it.
    if losses.size and (losses > 0).all() and losses.max() / losses.min() > 100:
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title("Training history")
    ax.grid(alpha=0.3)
    # Losses fall, so the upper right is usually empty; "best" would search and may warn.
    ax.legend(loc="upper right", fontsize="small")
    return _save(fig, path)


# --------------------------------------------------------------------------------------------
# plot_gates


def _index(value: object, size: int, name: str, what: str) -> int:
    if not _is_int(value):
        raise DataError(f"{name} must be an integer, got {value!r}.")
    if not -size <= value < size:  # type: ignore[operator]
        raise DataError(
            f"{name}={value} is out of range: the trace has {size} {what}; "
            f"use 0..{size - 1} (or negative to count from the end)."
        )
    return int(value) % size  # type: ignore[call-overload]


def _inputs_array(inputs: object, sample: int, batch: int, time: int, segment: int) -> np.ndarray:
    """The chosen sample's inputs, (time or time * segment, features)."""
    arr = _to_numpy(inputs)
    if arr.ndim == 3:
        if arr.shape[0] != batch:
            raise DataError(
                f"inputs shaped {arr.shape} look like (batch, time, features) but the trace has "
                f"batch {batch}; pass the same batch, or the chosen sample's (time, features)."
            )
        arr = arr[sample]
    if arr.ndim == 1:
        arr = arr[:, None]
    lengths = {time, time * segment}
    if arr.ndim != 2 or arr.shape[0] not in lengths:
        raw = f" or the {time * segment} raw points" if segment > 1 else ""
        raise DataError(
            f"inputs must be shaped (time,) or (time, features) with time={time} like the "
            f"trace{raw}, got {arr.shape}."
        )
    return arr


def _unit_ticks(ax: Axes, units: np.ndarray) -> None:
    # Rows are positions 0..k-1 but stand for the original unit numbers.
    pos = np.unique(np.linspace(0, units.size - 1, min(units.size, 8)).round().astype(int))
    ax.yaxis.set_major_locator(FixedLocator(pos.tolist()))
    ax.set_yticklabels([str(u) for u in units[pos]])


def _gate_arrays(
    trace: GateTraceLike | Mapping[str, Any], sample: int, layer: int
) -> tuple[dict[str, np.ndarray], int, int, int]:
    """The trace's arrays of one layer and sample, each (time, hidden); layer, sample, batch."""
    raw: dict[str, Any] = {}
    for name, _, _ in _GATE_PANELS:
        value = _field(trace, name)
        if value is None and name != "hidden":
            raise DataError(
                f"trace has no {name!r}: expected a GateTrace-like object with input, forget, "
                "candidate, output, cell (and hidden), each shaped "
                "(num_layers, batch, time, hidden)."
            )
        if value is not None:
            raw[name] = value if hasattr(value, "shape") else _to_numpy(value)
    shapes = {name: tuple(value.shape) for name, value in raw.items()}
    shape = shapes["cell"]
    if len(shape) != 4 or any(s != shape for s in shapes.values()):
        raise DataError(
            f"every trace array must be shaped (num_layers, batch, time, hidden) alike, got "
            f"{shapes}."
        )
    n_layers, batch, time, hidden = shape
    if time == 0 or hidden == 0:
        raise DataError(f"the trace is empty (shape {shape}): run the LSTM on at least one step.")
    layer_i = _index(layer, n_layers, "layer", "layers")
    sample_i = _index(sample, batch, "sample", "samples")
    # Slice before converting: a traced batch can be large, one sample is small.
    data = {name: _to_numpy(value[layer_i, sample_i]) for name, value in raw.items()}
    return data, layer_i, sample_i, batch


def _check_segment(segment: object) -> int:
    if not _is_int(segment) or segment < 1:  # type: ignore[operator]
        raise DataError(
            f"segment must be a positive integer (raw points per step), got {segment!r}."
        )
    return int(segment)  # type: ignore[call-overload]


def _reach_table(forget: np.ndarray, segment: int) -> pd.DataFrame:
    """:func:`memory_reach` of one forget-gate trace shaped (time, hidden)."""
    time = forget.shape[0]
    # retention[k - 1] = R(k) = f_{T-1} * ... * f_{T-k}, k = 1..T-1: the share of the cell state
    # of step T-1-k that the forget gates let through to the last step.
    retention = np.cumprod(forget[:0:-1], axis=0)  # (time - 1, hidden)
    reach = (retention >= _REACH_RETENTION).sum(axis=0)  # R is non-increasing: a count suffices
    with np.errstate(divide="ignore"):
        mean_log = np.log(np.clip(forget, 0.0, 1.0)).mean(axis=0)
        time_constant = np.where(mean_log < 0, -1.0 / mean_log, np.inf)
    mean_forget = forget.mean(axis=0)
    return pd.DataFrame(
        {
            "unit": np.arange(forget.shape[1]),
            "mean_forget": mean_forget,
            "long_memory": mean_forget > LONG_MEMORY_FORGET,
            "reach_steps": reach,
            "reach_points": reach * segment,
            "whole_window": reach == time - 1,
            "time_constant_steps": time_constant,
            "time_constant_points": time_constant * segment,
        }
    )


def memory_reach(
    trace: GateTraceLike | Mapping[str, Any],
    *,
    sample: int = 0,
    layer: int = -1,
    segment: int = 1,
) -> pd.DataFrame:
    """How far back each unit of one LSTM layer remembers, read off its forget gate.

    With c_t = f_t * c_{t-1} + i_t * g_t, what the cell held k steps before the last step T-1
    reaches it scaled by the unit's *retention* R(k) = f_{T-1} * f_{T-2} * ... * f_{T-k} (the
    input gate may add more on top; R is the share of the old content not erased). The *memory
    reach* is the largest k (at most T-1, the start of the window) with R(k) >= 1/e. Why 1/e: for
    a constant gate f, R(k) = f**k = exp(-k / tau) with tau = -1 / ln(f), the time constant of the
    unit's exponential forgetting, so the reach is tau rounded down (f = 0.9: 9 steps; 0.99: 99).
    Where the reach covers the whole window the true reach is longer than we can see; the time
    constant -1 / mean(ln f) (the tau of the window's geometric-mean gate) extrapolates it.

    Parameters
    ----------
    trace : GateTraceLike or mapping
        As for :func:`plot_gates`; the reach is read off ``forget``.
    sample, layer : int
        Which window of the batch and which layer (default the last).
    segment : int
        Raw time points per LSTM step (a segment-wise model's ``segment``), to convert steps.

    Returns
    -------
    DataFrame
        One row per unit: ``unit``, ``mean_forget``, ``long_memory`` (mean forget gate > 0.9),
        ``reach_steps`` and ``reach_points`` (LSTM steps and raw time points), ``whole_window``
        (the reach is cut by the window's start), ``time_constant_steps`` and
        ``time_constant_points`` (inf for a gate stuck at 1).
    """
    data, _, _, _ = _gate_arrays(trace, sample, layer)
    return _reach_table(data["forget"], _check_segment(segment))


def plot_gates(
    trace: GateTraceLike | Mapping[str, Any],
    *,
    sample: int = 0,
    layer: int = -1,
    inputs: torch.Tensor | np.ndarray | Sequence[float] | None = None,
    input_labels: Sequence[str] | None = None,
    segment: int = 1,
    max_units: int = 64,
    path: str | os.PathLike[str] | None = None,
) -> Figure:
    """Heatmaps of every gate and state of one LSTM layer over time, for one sample.

    Parameters
    ----------
    trace : GateTraceLike or mapping
        ``input``, ``forget``, ``candidate``, ``output``, ``cell`` and optionally ``hidden``,
        each a tensor or array shaped (num_layers, batch, time, hidden).
    sample : int
        Index into the batch axis.
    layer : int
        Index into the layer axis; default the last (the one feeding the head).
    inputs : array-like, optional
        The input series, drawn on top: shaped (time,), (time, features) or
        (batch, time, features), where time is the trace's steps or, for a segment-wise model,
        the raw points (steps * segment). Up to 10 features are drawn.
    input_labels : sequence of str, optional
        Legend names of the input features; default "input", or "feature 0", "feature 1", ...
    segment : int
        Raw time points per LSTM step (a segment-wise model's ``segment``). Above 1, the x axis
        counts LSTM steps below and raw points above.
    max_units : int
        Show at most this many units: those whose cell state varies most over the window, in
        their original order.
    path : path-like, optional
        Also save the figure there (atomically), in the format its suffix names (.png, .pdf,
        .svg, ...).

    Returns
    -------
    Figure
        One heatmap axes (time on x, unit on y) and one colorbar axes per panel, plus the input
        axes when ``inputs`` is given. On the forget-gate map a white tick marks, for each unit,
        the earliest step its memory reaches (:func:`memory_reach`); a triangle, a reach past the
        window's start. The title counts the long-memory units (mean forget gate > 0.9 over the
        window).

    Raises
    ------
    DataError
        A missing or mis-shaped array, ``sample``/``layer`` out of range, bad ``max_units`` or
        ``segment``, or ``inputs`` of the wrong length.
    """
    data, layer_i, sample_i, batch = _gate_arrays(trace, sample, layer)
    segment = _check_segment(segment)
    time, hidden = data["cell"].shape
    if not _is_int(max_units) or max_units < 1:
        raise DataError(f"max_units must be a positive integer, got {max_units!r}.")
    series = None if inputs is None else _inputs_array(inputs, sample_i, batch, time, segment)

    cell = data["cell"]  # (time, hidden)
    if hidden > max_units:
        variance = np.var(np.where(np.isfinite(cell), cell, 0.0), axis=0)
        # Stable sort so ties resolve to the lower unit number, deterministically.
        units = np.sort(np.argsort(-variance, kind="stable")[:max_units])
    else:
        units = np.arange(hidden)
    reach = _reach_table(data["forget"], segment)
    n_long = int(reach["long_memory"].sum())

    panels = [panel for panel in _GATE_PANELS if panel[0] in data]
    n_rows = len(panels) + (series is not None)
    fig = Figure(figsize=(10, 1.0 + 1.8 * n_rows), layout="constrained")
    grid = fig.add_gridspec(n_rows, 2, width_ratios=(40, 1))
    # Heatmap pixels are centred on integer steps; the input line uses the same x limits.
    extent = (-0.5, time - 0.5, -0.5, units.size - 0.5)
    row = 0
    first: Axes | None = None
    all_axes: list[Axes] = []

    if series is not None:
        first = fig.add_subplot(grid[0, 0])
        shown = series[:, :_MAX_INPUT_FEATURES]
        # Raw point r lies in step r // segment; centre each segment's points on its step.
        per_step = segment if series.shape[0] == time * segment else 1
        x = (np.arange(series.shape[0]) - (per_step - 1) / 2) / per_step
        for j in range(shown.shape[1]):
            if input_labels is not None and j < len(input_labels):
                label = input_labels[j]
            else:
                label = "input" if series.shape[1] == 1 else f"feature {j}"
            first.plot(x, shown[:, j], lw=1.2, label=label)
        if series.shape[1] > 1 or input_labels is not None:
            more = series.shape[1] > _MAX_INPUT_FEATURES
            first.legend(
                fontsize="x-small",
                ncols=min(shown.shape[1], 5),
                loc="upper left",
                title=f"first {_MAX_INPUT_FEATURES} of {series.shape[1]}" if more else None,
            )
        first.set_xlim(extent[0], extent[1])
        first.set_ylabel("input")
        first.grid(alpha=0.3)
        if segment > 1:
            raw = first.secondary_xaxis(
                "top",
                functions=(
                    lambda s: s * segment + (segment - 1) / 2,
                    lambda r: (r - (segment - 1) / 2) / segment,
                ),
            )
            raw.set_xlabel(f"raw time point ({segment} per LSTM step)", fontsize="small")
        all_axes.append(first)
        row = 1

    for name, label, scale in panels:
        values = data[name][:, units].T  # (units, time)
        if scale == "gate":
            cmap, vmin, vmax = "viridis", 0.0, 1.0
        elif scale == "tanh":
            cmap, vmin, vmax = "RdBu_r", -1.0, 1.0
        else:
            # The cell state is unbounded: centre on 0 so the sign reads the same as for h.
            finite = np.abs(values[np.isfinite(values)])
            peak = float(finite.max()) if finite.size else 0.0
            peak = peak if peak > 0 else 1.0
            cmap, vmin, vmax = "RdBu_r", -peak, peak
        ax = fig.add_subplot(grid[row, 0], sharex=first)
        first = first or ax
        image = ax.imshow(
            values,
            aspect="auto",
            origin="lower",
            interpolation="nearest",
            cmap=cmap,
            vmin=vmin,
            vmax=vmax,
            extent=extent,
        )
        fig.colorbar(image, cax=fig.add_subplot(grid[row, 1]))
        if name == "forget":
            _draw_reach(ax, reach.iloc[units], time)
            label += ";  white tick: how far back the unit's memory reaches (retention >= 1/e)"
        ax.set_title(label, fontsize="small", loc="left")
        ax.set_ylabel("unit")
        _unit_ticks(ax, units)
        all_axes.append(ax)
        row += 1

    for ax in all_axes[:-1]:
        ax.tick_params(labelbottom=False)
    all_axes[-1].set_xlabel(
        "time step" if segment == 1 else f"LSTM step (each {segment} raw time points)"
    )
    all_axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))

    shown_note = (
        f"{units.size} of {hidden} units with the largest cell-state variance (original order)"
        if units.size < hidden
        else f"all {hidden} units"
    )
    fig.suptitle(
        f"LSTM layer {layer_i}, sample {sample_i}: {shown_note}\n"
        f"{n_long} of {hidden} long-memory units (mean forget gate > {LONG_MEMORY_FORGET} "
        f"over these {time} steps)"
    )
    return _save(fig, path)


def _draw_reach(ax: Axes, reach: pd.DataFrame, time: int) -> None:
    """Mark, on each unit's row, the earliest step its memory reaches."""
    rows = np.arange(len(reach))
    start = time - 1 - reach["reach_steps"].to_numpy()
    cut = reach["whole_window"].to_numpy()
    if (~cut).any():
        ax.plot(start[~cut], rows[~cut], marker="|", ms=7, mew=2, color="white", ls="none")
    if cut.any():
        # The memory goes on past the window's start: point out of it.
        ax.plot(start[cut] - 0.3, rows[cut], marker="<", ms=4, color="white", ls="none", mec="k")
    ax.set_xlim(-0.5, time - 0.5)


# --------------------------------------------------------------------------------------------
# plot_adding


def plot_adding(
    results: AddingResult | Sequence[AddingResult],
    *,
    path: str | os.PathLike[str] | None = None,
) -> Figure:
    """Learning curves of adding-problem runs (:func:`lstmcast.experiment.adding_problem`).

    Test MSE (log scale, with the trivial answer's MSE dashed) and test accuracy (share within
    0.04 of the target) against training steps, one line per run.

    Parameters
    ----------
    results : AddingResult or sequence of them
    path : path-like, optional
        Also save the figure there (atomically), in the format its suffix names (.png, .pdf,
        .svg, ...).

    Returns
    -------
    Figure
        Two axes: test MSE above, accuracy below.
    """
    runs = [results] if hasattr(results, "curve") else list(results)  # type: ignore[arg-type]
    if not runs:
        raise DataError("results is empty: pass at least one adding-problem result.")
    fig = Figure(figsize=(8, 6), layout="constrained")
    mse_ax, acc_ax = fig.subplots(2, 1, sharex=True)
    for k, run in enumerate(runs):
        label = (
            f"{run.cell.upper()}, T = {run.length}: {run.steps} steps, {run.seconds:.0f} s, "
            f"accuracy {run.accuracy:.1%}"
        )
        curve = run.curve
        mse_ax.plot(curve["step"], curve["test_mse"], color=f"C{k}", label=label)
        acc_ax.plot(curve["step"], curve["accuracy"], color=f"C{k}")
    baselines = sorted({round(run.baseline_mse, 3) for run in runs})
    for value in baselines:
        mse_ax.axhline(value, color="grey", ls="--", lw=1)
    mse_ax.text(
        0.01, baselines[-1], " always 1.0", color="grey", va="bottom",
        transform=mse_ax.get_yaxis_transform(),
    )  # fmt: skip
    mse_ax.set_yscale("log")
    mse_ax.set_ylabel("test MSE")
    mse_ax.set_title("Adding problem: learning curves", loc="left")
    mse_ax.legend(fontsize="small", loc="lower left")
    acc_ax.set_ylim(-0.02, 1.02)
    acc_ax.set_ylabel("accuracy (|error| < 0.04)")
    acc_ax.set_xlabel("training step")
    for ax in (mse_ax, acc_ax):
        ax.grid(alpha=0.3)
    return _save(fig, path)

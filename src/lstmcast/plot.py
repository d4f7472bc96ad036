"""Forecast plots, and the figure handling every plot shares.

The end of the data flow (input frame -> windows -> model -> forecast -> metrics and **plots**):
:func:`plot_forecast` draws history, forecasts, intervals and actuals from long frames. The
training curves are in :mod:`lstmcast.training_plot`, the gate heatmaps in
:mod:`lstmcast.gate_plot`.

Every plot builds its own :class:`matplotlib.figure.Figure` instead of going through
``matplotlib.pyplot``: no global figure registry, no GUI backend, nothing to close, safe on
headless machines and in threads. A saved figure is rendered by the Agg canvas.

Each plot returns the figure and, when ``path`` is given, also writes it atomically (a reader
never sees a half-written image) in the format its suffix names (.png, .pdf, .svg, ...).
``plot_forecast`` and ``plot_history`` accept an ``ax`` to draw into, so several plots can share
one figure; they then return the axes' figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .checks import Rule, check_numeric, require_frame
from .columns import CUTOFF, ID, NOT_MODELS, TARGET, TIME, parse_interval
from .errors import ConfigError, DataError
from .files import atomic_path, image_format

if TYPE_CHECKING:
    import os

    from matplotlib.axes import Axes

__all__ = ["plot_forecast"]

_DPI = 120
_DEFAULT_MAX_SERIES = 4
# Series ids named in an error about ids.
_NAMED_IDS = 5


def save_figure(fig: Figure, path: str | os.PathLike[str] | None) -> Figure:
    """``fig``, also written atomically to ``path`` (if given) in the format its suffix names."""
    if path is not None:
        # The temporary file ends in ".tmp", so the format is named from the path's suffix.
        kind = image_format(path, what="path")
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=kind, dpi=_DPI)
    return fig


def root_figure(ax: Axes) -> Figure:
    """The figure that holds ``ax`` and can be saved."""
    # ax.figure is a SubFigure when the caller composes with subfigures; only the root figure
    # can be saved. ``.figure`` of a Figure is itself, of a SubFigure the root.
    return ax.figure.figure  # type: ignore[return-value]


def _ds_kind(frame: pd.DataFrame, name: str) -> str | None:
    """``"datetime"`` or ``"number"``; ``None`` for an empty frame (its dtype says nothing)."""
    if frame.empty:
        return None
    ds = frame[TIME]
    if pd.api.types.is_datetime64_any_dtype(ds):
        return "datetime"
    if pd.api.types.is_numeric_dtype(ds) and not pd.api.types.is_bool_dtype(ds):
        return "number"
    raise DataError(
        f"{name}[{TIME!r}] must be datetime64 or integer, got dtype {ds.dtype}; "
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
    columns = {"history": (TIME,), "forecast": (TIME, CUTOFF), "test": (TIME,)}
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
    history_ids = history[ID].drop_duplicates()
    forecast_ids = forecast[ID].drop_duplicates()
    shared = forecast_ids[forecast_ids.isin(history_ids)]
    if shared.empty:
        raise DataError(
            f"forecast and history share no series: the forecast has {_few(forecast_ids)}, the "
            f"history {_few(history_ids)}. Plot a forecast with the history it was made from."
        )
    ds = _wall_clock(forecast[TIME])
    if CUTOFF in forecast.columns:
        cutoff = forecast[CUTOFF]
        types = pd.api.types
        numbers = types.is_numeric_dtype(cutoff) and not types.is_bool_dtype(cutoff)
        like_ds = (
            types.is_datetime64_any_dtype(cutoff) if types.is_datetime64_any_dtype(ds) else numbers
        )
        if not like_ds:
            raise DataError(
                f"forecast[{CUTOFF!r}] must hold times like its {TIME} ({ds.dtype}), got dtype "
                f"{cutoff.dtype}."
            )
        early = (ds <= _wall_clock(cutoff)).to_numpy()
        if early.any():
            row = int(np.argmax(early))
            raise DataError(
                f"forecast row {row} (series {forecast[ID].iloc[row]!r}) is for ds "
                f"{ds.iloc[row]}, not after its cutoff {cutoff.iloc[row]}: a backtest forecasts "
                "the times after each cutoff."
            )
        return
    ends = _wall_clock(history[TIME]).groupby(history[ID], sort=False).max()
    of_shared = forecast[ID].isin(shared).to_numpy()
    starts = ds[of_shared].groupby(forecast[ID][of_shared], sort=False).min()
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
                f"besides {', '.join(NOT_MODELS)}; it has {list(forecast.columns)[:12]}."
            )
        return chosen
    chosen = [models] if isinstance(models, str) else list(models)
    if not chosen:
        raise ConfigError("models is empty: pass at least one model column, or None for all.")
    unknown = [m for m in chosen if m not in candidates]
    if unknown:
        raise DataError(
            f"model column(s) {unknown} not in forecast; its model columns are {candidates[:12]}."
        )
    for model in chosen:
        check_numeric(forecast, model, "forecast", f"the forecasts of model {model!r}")
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
        check_numeric(forecast, sides["lo"][level], "forecast", "a lower interval bound")
        check_numeric(forecast, sides["hi"][level], "forecast", "an upper interval bound")
    return [(sides["lo"][lv], sides["hi"][lv], lv) for lv in levels]


def _resolve_ids(forecast: pd.DataFrame, ids: object) -> list[Any]:
    available = forecast[ID].drop_duplicates().tolist()
    if ids is None:
        return available[:_DEFAULT_MAX_SERIES]
    chosen = [ids] if isinstance(ids, str) or np.isscalar(ids) else list(ids)  # type: ignore[call-overload]
    if not chosen:
        raise ConfigError("ids is empty: pass at least one unique_id, or None for the first 4.")
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
    if CUTOFF in frame.columns:
        # Backtests forecast each date from several origins; keep the latest origin's value, the
        # shortest horizon, so the result is one line (one-step-ahead when every step is an origin).
        frame = frame.sort_values([TIME, CUTOFF], kind="stable")
        return frame.drop_duplicates(TIME, keep="last")
    return frame.sort_values(TIME, kind="stable")


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
        hist = history.loc[history[ID] == uid].sort_values(TIME, kind="stable")
        if max_history is not None:
            hist = hist.iloc[len(hist) - min(max_history, len(hist)) :]
        if len(hist):
            ax.plot(_x(hist[TIME]), _y(hist[TARGET]), color="0.25", lw=1.2, label="history")

    fc = _one_row_per_ds(forecast.loc[forecast[ID] == uid])
    x = _x(fc[TIME])
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
        act = actual.loc[actual[ID] == uid]
        act = _one_row_per_ds(act) if actual is forecast else act.sort_values(TIME, kind="stable")
        if len(act):
            ax.plot(
                _x(act[TIME]),
                _y(act[TARGET]),
                color="black",
                ls="--",
                lw=1.0,
                marker="o",
                ms=2.5,
                label="actual",
                zorder=3,
            )

    ax.set_title(str(uid))
    ax.set_xlabel(TIME)
    ax.set_ylabel(TARGET)
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
    fc = require_frame(forecast, "forecast", (ID, TIME))
    if fc.empty:
        raise DataError("forecast is empty: nothing to plot.")
    hist = None if history is None else require_frame(history, "history", (ID, TIME, TARGET))
    if test is not None:
        actual = require_frame(test, "test", (ID, TIME, TARGET))
    elif TARGET in fc.columns:
        actual = fc
    else:
        actual = None
    for frame, name in ((hist, "history"), (actual, "test" if test is not None else "forecast")):
        if frame is not None:
            role = "the history" if name == "history" else "the actual values"
            check_numeric(frame, TARGET, name, role)
    Rule(int, 0, optional=True).check("max_history", max_history)

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
        return save_figure(root_figure(ax), path)

    fig = Figure(figsize=(10, 0.6 + 2.8 * len(series)), layout="constrained")
    axes = fig.subplots(len(series), 1, squeeze=False)[:, 0]
    for uid, series_ax in zip(series, axes, strict=True):
        _draw_series(series_ax, uid, hist, fc, actual, model_cols, bands, max_history)
        _format_x(series_ax, kind)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)

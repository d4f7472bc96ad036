"""The forecaster contract (scikit-learn style) and the naive baselines.

Every forecaster has the same verbs:

- ``fit(df)`` learns from the series in ``df`` and returns ``self``;
- ``predict(h)`` forecasts ``h`` steps past the end of every series (or of the series in a new
  ``df``), as a long frame ``unique_id, ds, <Model>`` whose ``ds`` continues each series' step;
- ``backtest(df, h, n_windows, step_size)`` forecasts from several origins inside ``df`` (rolling
  origin), each forecast beside the actual values ``y``.

So baselines and the LSTM are scored the same way, on the same rows. Where it sits: the
contract every forecaster keeps (data -> model -> forecast); the LSTM itself is in
``lstm_forecaster``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .checks import (
    Rule,
    check_backtest,
    check_backtest_size,
    check_h,
    check_level,
    check_output_size,
)
from .columns import ID, TIME
from .data import Panel
from .errors import ConfigError, DataError, ForecastError, NotFittedError, count, option, points
from .fitted import DEFAULT_COLUMNS
from .missing import POLICIES, fill_targets, insert_gaps, previous_rows
from .settings import AUTO, check_missing
from .timesteps import describe_step, future_times
from .train import Callback

if TYPE_CHECKING:
    import pandas as pd


class Forecaster:
    """Shared verbs of every forecaster; subclasses say how to fit and how to forecast."""

    alias: ClassVar[str]
    _rules: ClassVar[dict[str, Rule]] = {}
    _fitted_attributes: ClassVar[tuple[str, ...]] = ("tail_",)  # set by fit or load

    # -- scikit-learn style parameters -------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [p for p in signature.parameters if p != "self"]

    # Settings a forecaster leaves "auto" are chosen from the data at fit (see lstmcast.recipe):
    # the attribute then holds the value used, and ``_chosen`` remembers which were chosen.
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor arguments as given: "auto" for those chosen at fit (so a refit, or
        a clone, chooses them anew); the values used are ``settings_``."""
        params = self._current()
        for name in self.__dict__.get("_chosen", {}):
            params[name] = AUTO
        return params

    def set_params(self, **params: Any) -> Forecaster:
        """Set constructor arguments; takes effect at the next ``fit``."""
        for name, value in params.items():
            if name not in self._param_names():
                raise ConfigError(
                    f"{type(self).__name__} has no parameter {name!r}; "
                    f"parameters are {', '.join(self._param_names())}"
                )
            setattr(self, name, value)
            self.__dict__.get("_chosen", {}).pop(name, None)  # given now, not chosen
        return self

    def _current(self) -> dict[str, Any]:
        """Every setting's current value ("auto" for one not chosen yet)."""
        return {name: getattr(self, name) for name in self._param_names()}

    @property
    def settings_(self) -> dict[str, Any]:
        """Every setting as the fitted (or planned) model uses it: given, or chosen."""
        if "_chosen" not in self.__dict__:
            self._check_fitted()
        return self._current()

    @property
    def recipe_(self) -> list[str]:
        """Why each setting left "auto" got its value, one line per choice (empty: none)."""
        if "_chosen" not in self.__dict__:
            self._check_fitted()
        return list(self.__dict__.get("_reasons", []))

    def __repr__(self) -> str:
        defaults = inspect.signature(type(self).__init__).parameters
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if v != defaults[k].default]
        return f"{type(self).__name__}({', '.join(changed)})"

    def _check_params(self) -> None:
        for name, rule in self._rules.items():
            rule.check(name, getattr(self, name))

    def _check_fitted(self) -> None:
        if not all(getattr(self, name, None) for name in self._fitted_attributes):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(df) first "
                "(or lstmcast.load a saved model)"
            )

    # -- what subclasses provide --------------------------------------------------------------
    def _context_length(self) -> int:
        """Past points a forecast needs."""
        raise NotImplementedError

    def _fit(
        self,
        panel: Panel,
        steps: list[Any],
        columns: dict[str, str | None],
        callbacks: Sequence[Callback],
    ) -> None:
        """Learn from ``panel`` and keep what forecasting past its end needs (see _set_data)."""
        raise NotImplementedError

    def _forecast(self, panel: Panel, series: np.ndarray, ends: np.ndarray, h: int) -> np.ndarray:
        """Forecasts (k, h); row j from the history of series ``series[j]`` before ``ends[j]``."""
        raise NotImplementedError

    def _read(self, df: Any, what: str, fitting: bool = False, **columns: str | None) -> Panel:
        """``df`` as a panel, with the covariates the model reads (baselines read none), its
        gaps and missing target values handled as the model's ``fill_gaps`` and ``missing``
        say; ``fitting``: ``df`` is the training data (static encodings are learned from it)."""
        missing, gaps = getattr(self, "missing", "error"), getattr(self, "fill_gaps", False)
        check_missing(missing, gaps)
        panel = Panel.from_data(df, **columns, keep_missing=missing != "error")
        return fill_targets(insert_gaps(panel) if gaps else panel, missing, what)

    def _for_series(self, panel: Panel, cold_start: bool) -> Forecaster:
        """The forecaster for new history ``panel``: this one, or with ``cold_start`` (for a
        model that learned per-series statistics) a copy that also knows the series it never
        saw, from their history (``cold_started_`` names them)."""
        return self

    def _with_future(self, panel: Panel, futr_df: Any, times: np.ndarray) -> Panel:
        """``panel`` with each series' future-known values from ``futr_df`` at ``times`` (n, h),
        the steps after it (models without future-known covariates take none)."""
        if futr_df is not None:
            raise ConfigError(
                f"{type(self).__name__} reads no future-known covariates; futr_df is for a "
                "model trained with futr_cols"
            )
        return panel

    # -- shared verbs --------------------------------------------------------------------------
    def fit(
        self,
        df: Any,
        *,
        id_col: str | None = None,
        time_col: str | None = None,
        target_col: str | None = None,
        callbacks: Sequence[Callback] = (),
    ) -> Forecaster:
        """Learn from every series in ``df`` (array, Series, wide or long frame); return self."""
        return self._fit_data(df, id_col, time_col, target_col, callbacks)

    def _fit_data(
        self,
        df: Any,
        id_col: str | None,
        time_col: str | None,
        target_col: str | None,
        callbacks: Sequence[Callback],
        **options: Any,
    ) -> Forecaster:
        self._check_params()
        panel = self._read(df, "the training data", fitting=True, id_col=id_col,
                           time_col=time_col, target_col=target_col)  # fmt: skip
        steps = panel.steps()  # also rejects irregular series before any training
        # Kept (and saved) so that new data in the same layout needs no names again.
        columns = {"id_col": id_col, "time_col": time_col, "target_col": target_col}
        self._fit(panel, steps, columns, callbacks, **options)
        return self

    def _set_data(self, panel: Panel, steps: list[Any], columns: dict[str, str | None]) -> None:
        """Keep what forecasting past the end needs: each series' last points and time step,
        and the column names the data was read by."""
        self.columns_ = columns
        # A masked (NaN) value's stand-in may lie further back: such a series is kept whole.
        masked = bool(np.isnan(panel.y).any())
        self.tail_ = panel if masked else panel.tail(self._context_length())
        self.steps_ = steps
        self.n_series_ = len(panel)
        self.__dict__.pop("_step_of", None)  # of the series fitted before

    def _panel_for(self, df: Any, **columns: str | None) -> tuple[Panel, list[Any]]:
        """New history ``df`` as a panel and its steps, checked against what the model learned.

        ``columns``: ``id_col``, ``time_col``, ``target_col``; those not given (or None) are the
        names the model was fitted with.
        """
        panel = self._read(df, "the new data", **self._column_names(columns))
        self._check_zone(panel)
        steps = panel.steps()
        self._check_steps(panel, steps)
        return panel, steps

    def _check_zone(self, panel: Panel) -> None:
        """Refuse dates without a zone for a model trained on zoned ones, and the reverse: which
        instant a naive time is (local or UTC) cannot be known, and the forecast's times and
        calendar features would silently shift by the offset."""
        trained = getattr(self.tail_, "tz", None)
        if panel.ds.dtype.kind != "M" or self.tail_.ds.dtype.kind != "M":
            return  # integer steps, or a mismatch the step check names
        if (trained is None) == (panel.tz is None):
            return
        if trained is not None:
            raise DataError(
                f"the model was trained on times in {trained}, but the new data's times have no "
                "zone; write them with their UTC offset (e.g. 2024-01-09 07:00:00+01:00) or "
                "zone, so each is one instant"
            )
        raise DataError(
            f"the model was trained on times without a zone, but the new data's are in "
            f"{panel.tz}; give them as the training data had them (no offset), or train on "
            "zoned times"
        )

    def _column_names(self, given: dict[str, str | None]) -> dict[str, str | None]:
        """The names of ``given`` that are not None, the model's (or the defaults) for the rest."""
        names = getattr(self, "columns_", DEFAULT_COLUMNS)
        return names | {name: value for name, value in given.items() if value is not None}

    @functools.cached_property
    def _step_of(self) -> dict[str, Any]:
        # Built once per fit or load: forecasting series one by one must not rebuild it.
        return dict(zip(self.tail_.ids, self.steps_, strict=True))

    def _check_steps(self, panel: Panel, steps: list[Any]) -> None:
        """Refuse a series whose time step differs from the one the model learned for it.

        Series the model does not know are left to the forecast, which says what it needs.
        """
        for series_id, step in zip(panel.ids, steps, strict=True):
            trained = self._step_of.get(series_id)
            if trained is not None and (
                isinstance(step, int) != isinstance(trained, int) or step != trained
            ):
                raise DataError(
                    f"series {series_id!r} has {describe_step(step)}, but the model was trained "
                    f"on {describe_step(trained)} for it; give it data at the training "
                    "frequency (resample it), or train a model on this one"
                )

    def _require_history(self, panel: Panel, needed: int, what: str) -> None:
        short = panel.lengths < needed
        if short.any():
            i = int(np.argmax(short))
            raise DataError(
                f"series {panel.ids[i]!r} has {points(panel.lengths[i])}; {what} needs at "
                f"least {needed}"
            )

    def predict(
        self,
        h: int | None = None,
        df: Any = None,
        level: Sequence[float] | None = None,
        *,
        futr_df: Any = None,
        cold_start: bool = False,
        id_col: str | None = None,
        time_col: str | None = None,
        target_col: str | None = None,
    ) -> pd.DataFrame:
        """Forecast ``h`` steps past the end of each series.

        Parameters
        ----------
        h : steps ahead; default the model's horizon.
        df : optional new history (same series ids and time steps as in training); default the
            training data.
        level : prediction-interval levels in percent, e.g. ``[80, 95]`` (see the model's docs).
        futr_df : a model with future-known covariates (``futr_cols``): a long frame
            ``unique_id, ds, <futr_cols>`` with their values at each of the ``h`` times after
            every series' history.
        cold_start : forecast series of ``df`` the model never saw, scaled from the history
            given (an LSTM; the frame then has a ``cold_start`` column). Without it such a
            series is an error, as a renamed column would be.
        id_col, time_col, target_col : column names of a long ``df``; default the names the
            model was fitted with.

        A ``df`` series whose time step differs from training is a DataError; an LSTM whose
        input lies more than FAR_FROM_TRAINING training standard deviations from a series'
        training mean warns (:class:`~lstmcast.errors.DataWarning`) and forecasts.

        Returns
        -------
        DataFrame ``unique_id, ds, <alias>`` with ``h`` rows per series, plus columns
        ``<alias>-lo-<level>`` and ``<alias>-hi-<level>`` for each level.
        """
        import pandas as pd

        self._check_fitted()
        h = check_h(self._default_h() if h is None else h)
        if df is None:
            panel, steps = self.tail_, self.steps_
        else:
            panel, steps = self._panel_for(
                df, id_col=id_col, time_col=time_col, target_col=target_col
            )
            self._require_history(panel, self._context_length(), self._context_what())
        model = self if df is None else self._for_series(panel, cold_start)
        levels = model._check_levels(level, h)
        check_output_size(len(panel), h, 3 + 2 * len(levels), count(len(panel), "series", "series"))
        series, ends = np.arange(len(panel)), panel.ends
        times = future_times(panel.ds[ends - 1], steps, h, panel.tz)
        panel = model._with_future(panel, futr_df, times)
        ends = panel.starts[:-1] + (ends - np.concatenate([[0], ends[:-1]]))
        values, bounds = model._forecast_with_bounds(panel, series, ends, h, levels)
        columns = {
            ID: np.repeat(panel.ids, h),
            TIME: panel.in_zone(times.reshape(-1)),
            self.alias: values.reshape(-1),
        }
        for name, bound in bounds.items():
            columns[name] = bound.reshape(-1)
        cold = getattr(model, "cold_started_", ())
        if cold:  # series the model never saw, scaled from the history given
            columns["cold_start"] = np.repeat(np.isin(panel.ids.astype(str), cold), h)
        return pd.DataFrame(columns)

    def _forecast_with_bounds(
        self, panel: Panel, series: np.ndarray, ends: np.ndarray, h: int, levels: list[float]
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Point forecasts (k, h) from rows ``ends`` of ``series``, and their interval bounds."""
        values = self._forecast(panel, series, ends, h)
        _refuse_non_finite(panel, series, values)
        return values, self._bounds(panel, series, ends, values, levels)

    def _check_levels(self, level: Sequence[float] | None, h: int) -> list[float]:
        """The distinct levels asked for, ascending: 80 given twice, or 80 and 80.0, is one."""
        if level is None:
            return []
        given = [level] if isinstance(level, str) or np.ndim(level) == 0 else list(level)
        # NumPy numbers (np.array([80, 95]), np.float32(80)) are numbers; NumPy bools are not.
        given = [
            value.item() if isinstance(value, np.integer | np.floating) else value
            for value in given
        ]
        for value in given:
            check_level("level", value)
        return sorted({float(value) for value in given})

    def _bounds(
        self,
        panel: Panel,
        series: np.ndarray,
        ends: np.ndarray,
        values: np.ndarray,
        levels: list[float],
    ) -> dict[str, np.ndarray]:
        """Interval columns ``<alias>-lo-<level>`` / ``-hi-``, each (k, h), for ``levels``."""
        if levels:
            raise ConfigError(
                f"{type(self).__name__} has no prediction intervals; use an LSTMForecaster "
                "trained with val_size (its intervals are calibrated on the validation tail)"
            )
        return {}

    def backtest(
        self,
        df: Any,
        h: int | None = None,
        n_windows: int = 1,
        step_size: int | None = None,
        refit: bool = False,
        level: Sequence[float] | None = None,
        *,
        cold_start: bool = False,
        id_col: str | None = None,
        time_col: str | None = None,
        target_col: str | None = None,
    ) -> pd.DataFrame:
        """Rolling-origin evaluation over the end of each series of ``df``.

        The last ``n_windows`` origins are ``step_size`` (default ``h``) apart; the last one leaves
        exactly ``h`` points after it. From each origin the model forecasts ``h`` steps using only
        the values before it: by default the fitted model as it is (no retraining, its scaling
        from training); with ``refit=True`` a fresh copy is trained on each origin's past.
        ``id_col``, ``time_col``, ``target_col``, ``cold_start``: as in :meth:`predict`;
        without ``refit``, ``df`` is checked against the model as there.

        Returns
        -------
        DataFrame ``unique_id, ds, cutoff, y, <alias>``: ``cutoff`` is the last time seen; with
        ``level``, interval columns as in :meth:`predict` (not with ``refit``). ``y`` is NaN
        where the data had no value (a model with ``missing``): a fill is no actual value
        (``evaluate(..., skip_missing=True)`` leaves those rows out).
        """
        import pandas as pd

        if not refit:
            self._check_fitted()
        h, n_windows, step_size = check_backtest(
            self._default_h() if h is None else h, n_windows, step_size
        )
        names = {"id_col": id_col, "time_col": time_col, "target_col": target_col}
        if refit:  # fresh copies learn from df itself: nothing to check it against
            panel = self._read(df, "the data", fitting=True, **self._column_names(names))
        else:
            panel = self._panel_for(df, **names)[0]
        span = h + step_size * (n_windows - 1)
        self._require_history(
            panel,
            self._context_length() + span,
            f"{self._context_what()} + a backtest of {count(n_windows, 'window')} of "
            f"{option('h', h)}, "
            f"step {step_size}",
        )
        n, k = len(panel), n_windows
        model = self if refit else self._for_series(panel, cold_start)
        levels = model._check_levels(level, h)
        check_backtest_size(n, k, h, 5 + 2 * len(levels))
        # origins[s, w]: number of points of series s seen before window w.
        origins = panel.lengths[:, None] - span + step_size * np.arange(k)[None, :]
        series = np.repeat(np.arange(n), k)
        ends = (panel.starts[:-1, None] + origins).reshape(-1)
        if refit and levels:
            raise ConfigError(f"intervals are not available with {option('refit', True)}")
        if refit:
            values = np.concatenate(
                [self._refit_forecast(panel, origins[:, w], h) for w in range(k)], axis=1
            ).reshape(n * k, h)
            bounds: dict[str, np.ndarray] = {}
        else:
            values, bounds = model._forecast_with_bounds(panel, series, ends, h, levels)
        target_rows = ends[:, None] + np.arange(h)[None, :]  # (n * k, h)
        return pd.DataFrame(
            {
                ID: np.repeat(panel.ids, k * h),
                TIME: panel.in_zone(panel.ds[target_rows.reshape(-1)]),
                "cutoff": panel.in_zone(np.repeat(panel.ds[ends - 1], h)),
                "y": panel.observed[target_rows.reshape(-1)],  # NaN where it was missing
                self.alias: values.reshape(-1),
            }
            | {name: bound.reshape(-1) for name, bound in bounds.items()}
        )

    def _refit_forecast(self, panel: Panel, seen: np.ndarray, h: int) -> np.ndarray:
        """Fit a fresh copy on the first ``seen[s]`` points of each series; forecast (n, 1, h)
        from there (reading ``panel``'s future-known values after it, if the model has any)."""
        clone = type(self)(**self.get_params())
        clone.fit(self._as_given(panel.head(seen)))
        ends = panel.starts[:-1] + seen
        return clone._forecast(panel, np.arange(len(panel)), ends, h)[:, None, :]

    def _as_given(self, panel: Panel) -> pd.DataFrame:
        """``panel`` as the long frame a user would give (a refitted copy learns from it)."""
        return panel.to_frame()

    def _default_h(self) -> int:
        return 1

    def _context_what(self) -> str:
        return f"a context of {self._context_length()}"


# The baselines' settings for missing values, checked as the LSTM's are.
_MISSING_RULES: dict[str, Rule] = {"missing": Rule(str, choices=POLICIES), "fill_gaps": Rule(bool)}


def _refuse_non_finite(panel: Panel, series: np.ndarray, values: np.ndarray) -> None:
    """Raise if any forecast (k, h) of ``series`` (k,) is NaN or infinite, naming the first
    series: a number the user cannot tell from a forecast must not reach them."""
    bad = ~np.isfinite(values).all(axis=1)
    if not bad.any():
        return
    names = np.unique(series[bad])
    others = ""
    if len(names) > 1:
        others = f" (and {count(len(names) - 1, 'other series', 'other series')})"
    raise ForecastError(
        f"the forecast of series {panel.ids[names[0]]!r}{others} is NaN or infinite: the "
        "network's output overflowed. Check that the model file is the one training wrote "
        "and that the series' values are in the units of the training data"
    )


def _last_observed(panel: Panel, rows: np.ndarray, back: int) -> np.ndarray:
    """Values at ``rows`` (any shape) of ``panel``, each missing one (NaN: ``missing="mask"``)
    replaced by the latest observed value ``back``, ``2 * back``, ... rows before it in its
    series; a value with none is an error naming the series."""
    values = panel.y[rows]
    if not np.isnan(values).any():
        return values
    rows = rows.copy()
    series_start = panel.starts[panel.series_of(rows)]
    if back == 1:  # straight to the last observed row
        rows = previous_rows(~np.isnan(panel.y), panel.starts)[rows]  # -1: none
    else:
        while True:
            stepping = np.isnan(panel.y[rows]) & (rows - back >= series_start)
            if not stepping.any():
                break
            rows[stepping] -= back
    none = (rows < series_start) | np.isnan(panel.y[np.maximum(rows, 0)])
    if none.any():
        series = panel.series_of(series_start[none][0])
        raise DataError(
            f"series {panel.ids[series]!r} has no observed value to repeat before its forecast "
            f"origin (every one {'before' if back == 1 else f'{back} steps apart before'} it is "
            "missing)"
        )
    return panel.y[rows]


class Naive(Forecaster):
    """Repeat each series' last value (with ``missing="mask"``: its last observed value).

    ``missing`` and ``fill_gaps`` read data as :class:`~lstmcast.LSTMForecaster`'s do, so a
    baseline sees what the LSTM sees: filled values are values, masked ones are skipped.
    """

    alias = "Naive"
    _rules: ClassVar[dict[str, Rule]] = _MISSING_RULES

    def __init__(self, missing: str = "error", fill_gaps: bool = False) -> None:
        self.missing = missing
        self.fill_gaps = fill_gaps

    def _context_length(self) -> int:
        return 1

    def _fit(
        self,
        panel: Panel,
        steps: list[Any],
        columns: dict[str, str | None],
        callbacks: Sequence[Callback],
    ) -> None:
        self._require_history(panel, 1, "the naive forecast")
        self._set_data(panel, steps, columns)

    def _forecast(self, panel: Panel, series: np.ndarray, ends: np.ndarray, h: int) -> np.ndarray:
        return np.repeat(_last_observed(panel, ends - 1, 1)[:, None], h, axis=1)


class SeasonalNaive(Forecaster):
    """Repeat each series' last season: the forecast for t is the value at t - season_length
    (with ``missing="mask"``, a missing one: the latest observed value a whole number of
    seasons before it). ``missing``, ``fill_gaps``: as for :class:`Naive`."""

    alias = "SeasonalNaive"
    _rules: ClassVar[dict[str, Rule]] = {"season_length": Rule(int, 1), **_MISSING_RULES}

    def __init__(
        self, season_length: int = 1, missing: str = "error", fill_gaps: bool = False
    ) -> None:
        self.season_length = season_length
        self.missing = missing
        self.fill_gaps = fill_gaps

    def _context_length(self) -> int:
        return self.season_length

    def _context_what(self) -> str:
        return f"season_length {self.season_length}"

    def _fit(
        self,
        panel: Panel,
        steps: list[Any],
        columns: dict[str, str | None],
        callbacks: Sequence[Callback],
    ) -> None:
        self._require_history(panel, self.season_length, self._context_what())
        self._set_data(panel, steps, columns)

    def _forecast(self, panel: Panel, series: np.ndarray, ends: np.ndarray, h: int) -> np.ndarray:
        m = self.season_length
        return _last_observed(panel, ends[:, None] - m + (np.arange(h) % m)[None, :], m)

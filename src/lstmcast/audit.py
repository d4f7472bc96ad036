"""The leakage check: covariates that secretly hold the target's future.

A covariate leaks when the model can read from it a target value it is asked to forecast. A
past-only column (``hist_cols``, read up to the forecast origin) that holds the target one or
more steps ahead carries the future into the window's last step. A future-known column
(``futr_cols``, read over the whole horizon) that holds the target at the same step or later
gives the forecast away. Such a model scores brilliantly in a backtest and fails once deployed.
:func:`leakage` looks for both in a training frame, from correlations alone.

Every correlation is Pearson's, of first differences (``Δx_t = x_t - x_{t-1}``, so that a shared
trend or level does not make unrelated columns look alike), pooled over series: the pairs of all
series are concatenated, no difference spans two series and no pair joins rows of two series.
Rows are steps (the frame is assumed regular). A pair with a NaN on either side is dropped.
Correlations from fewer than :data:`MIN_PAIRS` pairs are not used. For a covariate ``c`` and the
target ``y``, with ``L = max_lag``:

- its profile ``r_k = corr(Δc_t, Δy_{t+k})`` for ``k = -L..L`` (``k > 0``: ``c`` leads ``y``);
- the target's own ``a_k = corr(Δy_t, Δy_{t+k})`` for ``k = 1..L``;
- a lag is *forward* when ``k >= 1`` for a past-only column and ``k >= 0`` for a future-known
  one: the lags at which holding the target is leakage;
- the *baseline* ``b``, the best an honest input reaches: ``max |a_k|`` (the target's own past
  changes).

Checks (at most one finding per covariate; the first that fires):

1. ``shifted_target``: the lag ``k*`` of the highest ``|r_k|`` is forward and ``|r_k*| >=``
   :data:`SHIFTED_MIN_CORRELATION`. The lag must be the *peak*, ties going to the nearer and
   earlier lag: on a smooth target neighbouring changes correlate at 0.99, so an honest copy of
   ``y_{t-1}`` reaches 0.98 at ``k = 1`` too, but it peaks (at 1.0) at ``k = -1``.
2. ``too_predictive``: the best correlation with a *later* target ``r*`` (the highest
   ``|r_k|``, ``k >= 1``, for either kind) reaches :data:`PREDICTIVE_MIN_CORRELATION` and
   explains at least :data:`PREDICTIVE_MIN_GAIN` of the change variance the baseline leaves
   unexplained: ``(r*^2 - b^2) / (1 - b^2) >= PREDICTIVE_MIN_GAIN``. A future-known column may
   explain its own step's target as well as it likes (that is what a strong driver, a promotion
   on a quiet series, does): at ``k = 0`` only a near copy (check 1) is leakage.

Covariates whose changes are constant (a constant, a step counter) carry nothing to check and are
reported as skipped. A finding is evidence, not proof: a real driver that explains nearly all of
the target's changes looks the same; the sentence says what was measured so a person can judge.

Sits beside the data stage: validated long frame -> :class:`LeakageReport`. Imports nothing of
the estimator; the default ``max_lag`` reads the season as the recipe does.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .columns import ID, TARGET, TIME
from .errors import ConfigError, DataError, DataWarning, count, option, setting

if TYPE_CHECKING:
    from .data import Panel

# A copy of the target plus noise of s times the spread of its changes correlates at
# 1 / sqrt(1 + 2 s^2): 0.99 for s = 0.1 (rounding, measurement noise). 0.98 is 96% of the variance
# of the target's changes, further than an input that is not the target itself reaches.
SHIFTED_MIN_CORRELATION = 0.98
# Genuine covariates correlate with the target's changes at about 0.3-0.8 (at most 64% of their
# variance; EPF's day-ahead load and generation forecasts against hourly prices: 0.16 and 0.21);
# 0.9 is 81%, far past that.
PREDICTIVE_MIN_CORRELATION = 0.9
# ... and the column must explain at least half of what the best honest input leaves unexplained:
# on a target whose changes its own past already predicts, a high correlation is no surprise.
PREDICTIVE_MIN_GAIN = 0.5
# Below this many pairs a correlation is too noisy to judge (by chance, |r| >= 0.9 from 30
# independent pairs has a probability of about 1e-11).
MIN_PAIRS = 30
# The default max_lag: twice the season, or this many steps when there is no season, ...
NO_SEASON_LAGS = 48
# ... and at most this fraction of the shortest series.
MAX_LAG_FRACTION = 0.25

KINDS = {"futr": "future-known", "hist": "past-only"}
CHECKS = ("shifted_target", "too_predictive")
FINDING_COLUMNS = ("column", "kind", "check", "lag", "correlation", "baseline", "evidence")


@dataclass(frozen=True, eq=False)  # a frame has no single truth value: compare .findings
class LeakageReport:
    """The outcome of :func:`leakage`.

    ``findings`` holds one row per flagged covariate (:data:`FINDING_COLUMNS`): ``kind`` is
    ``"futr"`` or ``"hist"``, ``check`` one of :data:`CHECKS`, ``lag`` the steps by which the
    target follows the column, ``correlation`` the signed correlation of changes at that lag,
    ``baseline`` what an honest input reaches, ``evidence`` one sentence. ``columns`` are the
    covariates looked at, ``skipped`` those whose changes are constant.
    """

    findings: pd.DataFrame
    columns: tuple[str, ...]
    skipped: tuple[str, ...]
    max_lag: int
    n_series: int

    @property
    def ok(self) -> bool:
        """No covariate looks like leakage."""
        return len(self.findings) == 0

    def summary(self) -> str:
        """One line: ``no leakage found in 3 covariates`` or ``2 of 3 covariates look like
        leakage: 'load_next' (the target 1 step ahead, correlation 0.999); ...``; covariates
        with constant changes are named at the end (``; not checked (constant changes): 'c'``).
        """
        tail = (
            f"; not checked (constant changes): {', '.join(repr(c) for c in self.skipped)}"
            if self.skipped
            else ""
        )
        if self.ok:
            checked = len(self.columns) - len(self.skipped)
            return f"no leakage found in {count(checked, 'covariate')}{tail}"
        parts = [
            f"{row.column!r} ({_short(row.check, int(row.lag), float(row.correlation))})"
            for row in self.findings.itertuples(index=False)
        ]
        verb = "looks" if len(parts) == 1 else "look"
        n = count(len(self.columns), "covariate")
        return f"{len(parts)} of {n} {verb} like leakage: {'; '.join(parts)}{tail}"


def leakage(
    df: pd.DataFrame,
    futr_cols: Sequence[str] | None = (),
    hist_cols: Sequence[str] | None = (),
    *,
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
    max_lag: int | None = None,
) -> LeakageReport:
    """Look for covariates that hold the target's future (see the module's docstring).

    Parameters
    ----------
    df : DataFrame, (rows, columns)
        Long frame: ``id_col``, ``time_col``, ``target_col`` and the covariates, numeric, each
        series sorted by time at a regular step (already validated).
    futr_cols, hist_cols : sequence of str
        Future-known and past-only covariates.
    max_lag : int, optional
        Largest lag ``L`` looked at, in steps. Default: twice the season (48 steps without one),
        at most a quarter of the shortest series, at least 1.

    Returns
    -------
    LeakageReport
        ``.ok``, ``.summary()`` and ``.findings``, one row per flagged covariate.
    """
    futr, hist = _names(futr_cols, "futr_cols"), _names(hist_cols, "hist_cols")
    if len(df) == 0:
        raise DataError("the data has no rows: there is nothing to check for leakage")
    _check_columns(df, futr, hist, (id_col, time_col, target_col))
    codes, order = _series_codes(df[id_col])
    lengths = np.bincount(codes)
    if max_lag is None:
        max_lag = _default_max_lag(df, order, lengths, (id_col, time_col, target_col))
    elif isinstance(max_lag, bool) or not isinstance(max_lag, int | np.integer) or max_lag < 1:
        raise ConfigError(f"{option('max_lag', max_lag)}: expected an int of at least 1")
    max_lag = int(max_lag)

    dy = _changes(_floats(df[target_col])[order], codes)
    target_acf = _profile(dy, dy, codes, np.arange(1, max_lag + 1))
    own_best = _best_abs(target_acf)
    lags = _lags_nearest_first(max_lag)
    rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    for kind, names in (("futr", futr), ("hist", hist)):
        for name in names:
            dc = _changes(_floats(df[name])[order], codes)
            finite = dc[np.isfinite(dc)]
            if len(finite) == 0 or np.ptp(finite) == 0.0:
                skipped.append(name)
                continue
            profile = _profile(dc, dy, codes, lags)
            finding = _judge(name, kind, lags, profile, own_best, len(lengths))
            if finding is not None:
                rows.append(finding)
    findings = pd.DataFrame(rows, columns=list(FINDING_COLUMNS))
    findings = findings.astype({"lag": np.int64, "correlation": np.float64, "baseline": np.float64})
    return LeakageReport(findings, (*futr, *hist), tuple(skipped), max_lag, len(lengths))


def _judge(
    name: str, kind: str, lags: np.ndarray, profile: np.ndarray, own_best: float, n_series: int
) -> dict[str, Any] | None:
    """The finding for one covariate from its profile (r_k at ``lags``), or None."""
    first_forward = 0 if kind == "futr" else 1
    # A future-known value may explain its own step's target as well as it likes (a strong
    # driver is no leak); only a near copy there is. What no honest input of either kind does
    # is explain later targets far better than the target's own past.
    baseline = own_best
    strength = np.where(np.isfinite(profile), np.abs(profile), -1.0)
    peak = int(np.argmax(strength))  # lags run nearest first, earlier first: ties go there
    if lags[peak] >= first_forward and strength[peak] >= SHIFTED_MIN_CORRELATION:
        check, lag = "shifted_target", int(lags[peak])
    else:
        forward = np.flatnonzero(lags >= 1)
        if len(forward) == 0 or strength[forward].max() < PREDICTIVE_MIN_CORRELATION:
            return None
        best = int(forward[np.argmax(strength[forward])])
        if _gain(float(strength[best]), baseline) < PREDICTIVE_MIN_GAIN:
            return None
        check, lag = "too_predictive", int(lags[best])
    corr = float(profile[lags == lag][0])
    return {
        "column": name,
        "kind": kind,
        "check": check,
        "lag": lag,
        "correlation": corr,
        "baseline": baseline,
        "evidence": _evidence(name, kind, check, lag, corr, baseline, n_series),
    }


def _gain(r: float, baseline: float) -> float:
    """Share of the change variance the baseline leaves unexplained that ``r`` explains."""
    b = baseline if np.isfinite(baseline) else 0.0
    return (r * r - b * b) / (1.0 - b * b) if b < 1.0 else 0.0


def _ahead(lag: int) -> str:
    return "at the same step" if lag == 0 else f"{count(lag, 'step')} ahead"


def _short(check: str, lag: int, corr: float) -> str:
    what = "the target" if check == "shifted_target" else "predicts the target"
    return f"{what} {_ahead(lag)}, correlation {corr:.3f}"


def _evidence(
    name: str, kind: str, check: str, lag: int, corr: float, baseline: float, n_series: int
) -> str:
    """One sentence a person can judge: what the column matches, how well, against what."""
    pooled = f"pooled over {count(n_series, 'series', 'series')}"
    if check == "shifted_target":
        sign = "" if corr > 0 else "minus "
        return (
            f"{KINDS[kind]} column {name!r} equals {sign}the target {_ahead(lag)} "
            f"(correlation {corr:.3f} of their changes, {pooled})"
        )
    honest = "the target's own past changes" + (
        " and the column's earlier values" if kind == "futr" else ""
    )
    return (
        f"{KINDS[kind]} column {name!r} predicts the target's change {_ahead(lag)} with "
        f"correlation {corr:.3f}, far above the {baseline:.3f} that {honest} reach ({pooled})"
    )


def _floats(column: pd.Series) -> np.ndarray:
    """A numeric or boolean column as float64 (rows,), missing values (also pd.NA) as NaN."""
    return column.to_numpy(dtype=np.float64, na_value=np.nan)


def _names(cols: Sequence[str] | str | None, keyword: str) -> tuple[str, ...]:
    """Column names as a tuple: one name given as a string is one column, None is none."""
    if cols is None:
        return ()
    if isinstance(cols, str):
        return (cols,)
    names = tuple(cols)
    if not all(isinstance(c, str) for c in names):
        raise ConfigError(f"{setting(keyword)}: expected column names, got {names!r}")
    return names


def _check_columns(
    df: pd.DataFrame, futr: tuple[str, ...], hist: tuple[str, ...], fixed: tuple[str, str, str]
) -> None:
    everything = (*futr, *hist)
    twice = sorted({c for c in everything if everything.count(c) > 1})
    if twice:
        raise ConfigError(f"covariate {twice[0]!r} is declared twice: give each column one kind")
    reserved = [c for c in everything if c in fixed]
    if reserved:
        raise ConfigError(f"{reserved[0]!r} is the series id, time or target, not a covariate")
    missing = [c for c in (*fixed, *everything) if c not in df.columns]
    if missing:
        raise DataError(
            f"column {missing[0]!r} is not in the data (columns: {', '.join(map(str, df.columns))})"
        )


def _series_codes(ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Series codes (rows,) in series order, and the order (rows,) that groups the rows by series
    keeping each series' time order."""
    codes, _ = pd.factorize(ids, sort=False)
    if len(codes) < 2 or bool((codes[1:] >= codes[:-1]).all()):
        return codes.astype(np.int64), np.arange(len(codes))
    order = np.argsort(codes, kind="stable")
    return codes[order].astype(np.int64), order


def _changes(values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """First differences (rows,) within each series; NaN at each series' first row."""
    out = np.full(len(values), np.nan)
    out[1:] = values[1:] - values[:-1]
    out[1:][codes[1:] != codes[:-1]] = np.nan
    return out


def _lags_nearest_first(max_lag: int) -> np.ndarray:
    """0, -1, 1, -2, 2, ..., -max_lag, max_lag: argmax over them prefers near and earlier lags."""
    steps = np.arange(1, max_lag + 1)
    return np.concatenate([[0], np.column_stack([-steps, steps]).ravel()])


def _profile(a: np.ndarray, b: np.ndarray, codes: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """corr(a_t, b_{t+k}) (len(lags),) over pairs within one series, both finite; NaN where
    fewer than MIN_PAIRS pairs or a side is constant. ``a``, ``b``, ``codes``: (rows,)."""
    n = len(a)
    finite_a, finite_b = np.isfinite(a), np.isfinite(b)
    out = np.full(len(lags), np.nan)
    for j, k in enumerate(int(k) for k in lags):
        if abs(k) >= n:
            continue
        ia, ib = (slice(0, n - k), slice(k, n)) if k >= 0 else (slice(-k, n), slice(0, n + k))
        keep = finite_a[ia] & finite_b[ib] & (codes[ia] == codes[ib])
        out[j] = _corr(a[ia][keep], b[ib][keep])
    return out


def _corr(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson's correlation of pairs (m,), NaN when m < MIN_PAIRS or a side is constant."""
    if len(x) < MIN_PAIRS:
        return float("nan")
    x = x - x.mean()
    y = y - y.mean()
    # Elementwise sums, not BLAS dot products: pairwise summation, and no BLAS threads that
    # spin on a busy machine (a 16,000-row frame took seconds instead of milliseconds).
    scale = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum()) / scale if scale > 0.0 else float("nan")


def _best_abs(values: np.ndarray) -> float:
    finite = np.abs(values[np.isfinite(values)])
    return float(finite.max()) if len(finite) else 0.0


def _default_max_lag(
    df: pd.DataFrame, order: np.ndarray, lengths: np.ndarray, names: tuple[str, str, str]
) -> int:
    """Twice the season (NO_SEASON_LAGS without one), at most MAX_LAG_FRACTION of the shortest
    series, at least 1. The season is the recipe's: from the time step, else from the values."""
    from .recipe import period_from_autocorrelation, season_of_step
    from .timesteps import time_step

    id_col, time_col, target_col = names
    shortest = int(lengths.min())
    starts = np.concatenate([[0], np.cumsum(lengths)])
    longest = int(np.argmax(lengths))
    rows = order[starts[longest] : starts[longest + 1]]
    times = df[time_col].iloc[rows]
    tz = None
    if isinstance(times.dtype, pd.DatetimeTZDtype):
        tz = str(times.dt.tz)
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    values = times.to_numpy()
    season = None
    if values.dtype.kind in "iuM":
        try:
            season = season_of_step(time_step(values, str(df[id_col].iloc[rows[0]]), tz))[0]
        except DataError:  # irregular times: let the values tell
            season = None
    if season is None:
        y = _floats(df[target_col])[order]
        series = [s[np.isfinite(s)] for s in np.split(y, starts[1:-1])]
        season = period_from_autocorrelation(series, max_lag=shortest // 2)
    return max_lag_for(season, shortest)


def max_lag_for(season: int, shortest: int) -> int:
    """The lags looked at for a ``season`` (1: none) and the ``shortest`` series' points: twice
    the season (NO_SEASON_LAGS without one), at most MAX_LAG_FRACTION of the shortest series,
    at least 1."""
    lag = 2 * season if season > 1 else NO_SEASON_LAGS
    return max(1, min(lag, int(shortest * MAX_LAG_FRACTION)))


def warn_on_leakage(
    panel: Panel, futr_cols: Sequence[str], hist_cols: Sequence[str], season: int
) -> LeakageReport:
    """Run :func:`leakage` on training data ``panel`` over two of the model's seasons, and warn
    (:class:`~lstmcast.errors.DataWarning`, one line) when a covariate looks like leakage;
    ``lstmcast audit`` shows the same evidence."""
    df = panel.to_frame()[[ID, TIME, TARGET, *futr_cols, *hist_cols]]
    max_lag = max_lag_for(season, int(panel.lengths.min()))
    report = leakage(df, futr_cols, hist_cols, max_lag=max_lag)
    if not report.ok:
        warnings.warn(
            f"{report.summary()}: a model that reads the target's future looks good in a "
            "backtest and fails in use (details: lstmcast audit MODEL --data DATA)",
            DataWarning,
            stacklevel=3,
        )
    return report

"""Tuning on validation only: Optuna searches the settings that matter, the recipe is trial 0.

Each trial trains on every series but its last ``n_windows * horizon`` points and is scored
(MASE) by a rolling-origin backtest over those points: the end of the data given, never data
after it. The recipe of :mod:`lstmcast.recipe` is enqueued as the first trial, so tuning can
only match or beat it on validation. Optuna's TPE sampler is seeded (the same trials in the same
order for the same seed and trial count, as long as no trial's training is cut by its time
budget), bad trials are pruned on their epoch validation loss, and the study lives in
``<output>/study.db`` so an interrupted tuning resumes (a resumed run keeps the finished trials
and reseeds the sampler by their count). The best settings are then trained once more on all the
data.

The time budget covers the whole tuning: each trial's training gets a share of the time left (a
third: itself, the final training and one more trial), and a trial starts only while one more
trial and the final training still fit.

Optuna is an optional extra: ``pip install 'lstmcast[tune]'``. Where it sits: recipe ->
search space (:mod:`lstmcast.tuning_space`) -> trials of ``LSTMForecaster`` -> ``evaluate``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import tuning_study as studies
from .checks import Rule
from .errors import ConfigError, DataError, LstmcastError, option, points
from .tuning_space import SearchSpace
from .tuning_study import TrialResult, require_optuna

if TYPE_CHECKING:
    import optuna
    import pandas as pd

    from .data import Panel
    from .lstm_forecaster import LSTMForecaster
    from .train import Callback

TRIALS_FILE = "trials.csv"
PLOT_FILE = "trials.png"
MODEL_DIR = "model"
# A trial's training gets at most this share of the tuning time left: itself, the final training
# and one more trial (the last trial of a fixed count: half).
TRIAL_SHARES = 3
# The shortest time budget a trial's training gets, seconds (it always runs one epoch).
MIN_TRIAL_SECONDS = 1.0
# Settings tune() takes as its own arguments, or that make no sense to fix for a search.
NOT_FIXED = {"random_state": "seed", "recipe": None}

# The tuner's clock in seconds (tests replace it to fake the passing of time).
clock = time.monotonic


@dataclass(frozen=True)
class TuneResult:
    """What :func:`tune` found, and the model retrained on all data with the best settings."""

    model: LSTMForecaster
    settings: dict[str, Any]  # every setting of the model
    best: TrialResult
    recipe: TrialResult | None  # the recipe's trial (None: it did not finish)
    trials: pd.DataFrame  # trial, state, MASE, seconds, recipe, each setting searched, error
    folder: Path

    @property
    def score(self) -> float:
        """The best trial's validation MASE."""
        return float(self.best.mase)  # type: ignore[arg-type]

    @property
    def recipe_score(self) -> float | None:
        """The recipe's validation MASE (None when its trial was pruned or failed)."""
        return None if self.recipe is None else self.recipe.mase


@dataclass
class Budget:
    """The tuning's ``seconds`` (None: no limit): each trial's share, whether another trial
    fits, and the final training's share.

    ``cap`` is a trial's own training limit (the recipe's or the fixed ``time_budget``);
    ``final_ratio`` the points the final training learns from per point a trial learns from.
    """

    seconds: float | None
    cap: float | None
    final_ratio: float
    started: float = field(default_factory=lambda: clock())
    longest: float = 0.0  # the longest trial of this run, seconds
    overhead: float = 0.0  # the most a trial of this run spent outside fit (scoring), seconds

    def left(self) -> float | None:
        return None if self.seconds is None else self.seconds - (clock() - self.started)

    def for_trial(self, to_go: int | None) -> float | None:
        """Training seconds of the next trial, of ``to_go`` still to run (None: as many as fit):
        a share of the time left, within ``cap``."""
        left = self.left()
        if left is None:
            return self.cap
        shares = 2 if to_go == 1 else TRIAL_SHARES
        share = max(left / shares, MIN_TRIAL_SECONDS)
        return share if self.cap is None else min(share, self.cap)

    def record(self, seconds: float, fit_seconds: float) -> None:
        """A trial of this run took ``seconds``, of which ``fit_seconds`` training."""
        self.longest = max(self.longest, seconds)
        self.overhead = max(self.overhead, seconds - fit_seconds)

    def room_for_another(self, to_go: int | None, final_fit: float) -> bool:
        """Whether one more trial and then the final training (about ``final_fit`` seconds of
        training on the trials' data) still fit in the time left."""
        left = self.left()
        if left is None:
            return True
        share = self.for_trial(to_go)
        trial = self.longest if share is None else min(self.longest, share + self.overhead)
        return trial + final_fit * self.final_ratio <= left

    def for_final(self, trial_budget: float | None) -> float | None:
        """Training seconds of the final fit: those the best trial had (scaled by the data),
        within the time left."""
        limit = None if trial_budget is None else trial_budget * self.final_ratio
        left = self.left()
        if left is None:
            return limit
        left = max(left, MIN_TRIAL_SECONDS)
        return left if limit is None else min(left, limit)


def tune(
    df: Any,
    horizon: int,
    output: str | Path,
    *,
    time_budget: float | None = 900.0,
    n_trials: int | None = None,
    n_windows: int = 2,
    seed: int = 0,
    settings: Mapping[str, Any] | None = None,
    on_trial: Callable[[TrialResult], None] | None = None,
    callbacks: Sequence[Callback] = (),
    **columns: str | None,
) -> TuneResult:
    """Search settings for ``horizon``-step forecasts of ``df`` within ``time_budget`` seconds.

    ``output``: a folder for the study (``study.db``: run again, with a higher ``n_trials`` or
    another budget, to resume), the trials table (``trials.csv``), a plot of validation MASE by
    trial (``trials.png``) and the best model retrained on all of ``df`` (``model/``).
    ``n_trials``: trials in the study at most (None: the time budget alone stops it).
    ``n_windows``: forecast origins, ``horizon`` apart, that score each trial at the end of each
    series. ``settings``: LSTMForecaster settings fixed for every trial (not searched; a
    ``time_budget`` among them caps each trial's training). ``on_trial`` is called with each
    finished trial of this run; ``callbacks`` (progress bars) watch the final training.
    ``columns``: ``id_col`` / ``time_col`` / ``target_col`` of ``df``, kept by the model.
    """
    optuna = require_optuna()
    started = clock()
    _check_arguments(horizon, time_budget, n_trials, n_windows, seed)
    trials = _Trials.prepare(df, horizon, n_windows, _fixed(settings), seed, columns)
    trials.budget = Budget(time_budget, trials.space.base["time_budget"], trials.ratio, started)
    trials.n_trials, trials.on_trial = n_trials, on_trial
    folder = Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    with studies.optuna_quiet(optuna):
        study = studies.open_study(optuna, folder, trials.identity, seed)
        studies.enqueue_recipe(study, trials.space.base_params())
        to_run = None if n_trials is None else max(n_trials - studies.counted(study), 0)
        if to_run != 0:
            study.optimize(
                trials.run, n_trials=to_run, catch=(LstmcastError,), callbacks=[trials.after]
            )
        results = [TrialResult.of(trial) for trial in study.trials]
        best = studies.best_trial(study, results)
    table = _trials_table(results, trials.space.searched)
    from .files import write_frame

    write_frame(table, folder / TRIALS_FILE)
    _plot_trials(table, folder / PLOT_FILE)
    chosen = trials.space.suggest(optuna.trial.FixedTrial(best.params))
    chosen["time_budget"] = trials.budget.for_final(best.user_attrs.get(studies.BUDGET))
    model = trials.estimator(chosen).fit(df, callbacks=callbacks, **columns)
    if model.histories_[-1].interrupted:
        raise KeyboardInterrupt  # a half-trained model is not saved; the study resumes
    model.save(folder / MODEL_DIR)
    recipe = next((r for r in results if r.recipe and r.state == "complete"), None)
    return TuneResult(model, model.get_params(), TrialResult.of(best), recipe, table, folder)


@dataclass
class _Trials:
    """The trials' side of a tuning: the data split, the search space, and one trial's run
    (Optuna's objective) with what follows it (Optuna's callback)."""

    trained: pd.DataFrame  # every series but its last n_windows * horizon points
    frame: pd.DataFrame  # every series, whole
    space: SearchSpace
    identity: dict[str, Any]  # what a resumed study must have tuned
    ratio: float  # points of the final training per point a trial trains on
    horizon: int
    n_windows: int
    seed: int
    # Set by tune() once the data is checked (the budget counts from tune()'s start).
    budget: Budget = field(default_factory=lambda: Budget(None, None, 1.0))
    n_trials: int | None = None
    on_trial: Callable[[TrialResult], None] | None = None

    @classmethod
    def prepare(
        cls,
        df: Any,
        horizon: int,
        n_windows: int,
        fixed: dict[str, Any],
        seed: int,
        columns: Mapping[str, str | None],
    ) -> _Trials:
        """Split ``df``, choose the recipe on the trials' training part and the space around it;
        settings that cannot work and series too short are refused here, before any trial."""
        from .checkpoint import data_fingerprint
        from .columns import ID
        from .covariates import spec_of, static_table, with_static_columns
        from .data import Panel
        from .lstm_forecaster import LSTMForecaster
        from .missing import insert_gaps
        from .recipe import CHOSEN, resolve
        from .settings import AUTO

        covariates = spec_of(fixed)
        static = None  # the static columns as given (text for categories), by series id
        if covariates.static:
            static = static_table(df, columns.get("id_col") or ID, covariates.static, "the data")
            df = df.drop(columns=list(covariates.static))
        missing = fixed.get("missing", "error")
        panel = Panel.from_data(
            df, **columns, covariate_cols=covariates.dynamic, keep_missing=missing != "error"
        )
        if fixed.get("fill_gaps"):  # the held-out points are the last time steps, not rows
            panel = insert_gaps(panel)
        steps = panel.steps()
        held_out = n_windows * horizon
        _check_held_out(panel, held_out, n_windows, horizon)
        trained = panel.head(panel.lengths - held_out)
        # The network emits the horizon scored at once, unless a horizon is fixed.
        given = {"horizon": horizon} | {name: v for name, v in fixed.items() if name in CHOSEN}
        recipe = resolve("auto", given, trained, steps, fixed.get("quantile_levels"))
        base = {**recipe.settings, **given, **fixed}
        estimator = LSTMForecaster(**base)
        estimator._check_params()  # fixed settings that cannot work
        # Whether the loss is searched depends on it, given or not.
        base["quantile_training"] = estimator.quantile_training
        # Left to each fit: the log only where its own training values are all above 0 (the
        # final refit on all of df may meet values <= 0 that the training part has not).
        if "target_transform" not in fixed:
            base["target_transform"] = AUTO
        _check_room(trained, base)
        identity = {
            "data": data_fingerprint(panel),
            "horizon": horizon,
            "n_windows": n_windows,
            "settings": json.loads(json.dumps(fixed)),
        }
        return cls(
            trained=with_static_columns(trained.to_frame(), static),
            frame=with_static_columns(panel.to_frame(), static),
            space=SearchSpace.around(base, fixed, int(trained.lengths.min())),
            identity=identity,
            ratio=float(panel.lengths.sum() / trained.lengths.sum()),
            horizon=horizon,
            n_windows=n_windows,
            seed=seed,
        )

    def estimator(self, settings: Mapping[str, Any]) -> LSTMForecaster:
        from .lstm_forecaster import LSTMForecaster

        return LSTMForecaster(**settings, random_state=self.seed)

    def run(self, trial: optuna.Trial) -> float:
        """Train the trial's settings on the training part; its MASE on the held-out end."""
        from .scoring import evaluate
        from .train import training_loss

        began = clock()
        chosen = self.space.suggest(trial)
        trial.set_user_attr(studies.TRIED, json.loads(json.dumps(self.space.tried(chosen))))
        loss = training_loss(
            chosen["loss"], chosen.get("quantile_levels"), chosen["quantile_training"]
        )
        trial.set_user_attr(studies.LOSS, loss)
        chosen["time_budget"] = self.budget.for_trial(self._to_go(trial.study))
        trial.set_user_attr(studies.BUDGET, chosen["time_budget"])
        model = self.estimator(chosen)
        fit_seconds = 0.0
        try:
            model.fit(self.trained, callbacks=[studies.Reporter(trial)])
            fit_seconds = clock() - began
            if model.histories_[-1].interrupted:
                raise KeyboardInterrupt
            scored = model.backtest(self.frame, h=self.horizon, n_windows=self.n_windows)
        except LstmcastError as error:
            trial.set_user_attr(studies.ERROR, f"{type(error).__name__}: {error}")
            raise
        finally:
            fit_seconds = fit_seconds or clock() - began
            trial.set_user_attr(studies.FIT_SECONDS, fit_seconds)
            self.budget.record(clock() - began, fit_seconds)
        season = self.space.base["season_length"]
        # Actual values the data does not have (a model with missing=...) are not scored.
        metrics = evaluate(scored, train=self.trained, season_length=season, skip_missing=True)
        mase = float(metrics.loc[model.alias, "MASE"])
        return mase if math.isfinite(mase) else math.inf

    def after(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        """Report the trial; stop unless one more trial and the final training fit in time."""
        if self.on_trial is not None:
            self.on_trial(TrialResult.of(trial))
        if not self.budget.room_for_another(self._to_go(study), studies.final_fit_estimate(study)):
            study.stop()

    def _to_go(self, study: optuna.Study) -> int | None:
        """Trials still to run (None: as many as the time allows)."""
        return None if self.n_trials is None else self.n_trials - studies.counted(study)


def _check_arguments(
    horizon: int, time_budget: float | None, n_trials: int | None, n_windows: int, seed: int
) -> None:
    Rule(int, 1).check("horizon", horizon)
    Rule((int, float), 0, low_open=True, optional=True).check("time_budget", time_budget)
    Rule(int, 1, optional=True).check("n_trials", n_trials)
    Rule(int, 1).check("n_windows", n_windows)
    Rule(int, 0).check("seed", seed)
    if time_budget is None and n_trials is None:
        raise ConfigError(
            f"tuning needs an end: give {option('n_trials')} or {option('time_budget')} (or both)"
        )


def _fixed(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """The settings fixed for every trial; unknown names and tune's own are refused, and
    values equal to the estimator's defaults are dropped (they fix nothing)."""
    import inspect

    from .lstm_forecaster import LSTMForecaster
    from .settings import is_auto

    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(LSTMForecaster).parameters.items()
    }
    fixed = dict(settings or {})
    unknown = sorted(set(fixed) - set(defaults))
    if unknown:
        raise ConfigError(
            f"unknown setting {unknown[0]!r} to fix; LSTMForecaster takes: {', '.join(defaults)}"
        )
    for name, own in NOT_FIXED.items():
        if name in fixed and not is_auto(fixed[name]) and fixed[name] != defaults[name]:
            instead = f"give {option(own)} instead" if own else "it starts from the recipe"
            raise ConfigError(f"tuning does not take {name} as a fixed setting: {instead}")
    return {
        name: value
        for name, value in fixed.items()
        if not is_auto(value) and name not in NOT_FIXED and value != defaults[name]
    }


def _check_held_out(panel: Panel, held_out: int, n_windows: int, horizon: int) -> None:
    short = panel.lengths <= held_out
    if short.any():
        i = int(short.argmax())
        raise DataError(
            f"series {panel.ids[i]!r} has {points(int(panel.lengths[i]))}, and tuning scores "
            f"each trial on the last {held_out} ({option('n_windows', n_windows)} of "
            f"{option('horizon', horizon)}), training on the points before them; use fewer "
            f"{option('n_windows')}, a shorter {option('horizon')} or longer series"
        )


def _check_room(trained: Panel, base: Mapping[str, Any]) -> None:
    """Refuse series too short, once the last points are held out, for the recipe's window."""
    from .fitting import training_points

    try:
        training_points(trained, base["window"], base["horizon"], base["val_size"])
    except DataError as error:
        raise DataError(
            f"{error} once tuning holds out its scoring windows; use fewer "
            f"{option('n_windows')}, a shorter {option('horizon')} or longer series"
        ) from None


def _trials_table(results: list[TrialResult], searched: Sequence[str]) -> pd.DataFrame:
    """One row per trial: number, state, validation MASE, seconds, recipe, what it tried, error."""
    import pandas as pd

    rows = [
        {
            "trial": r.number,
            "state": r.state,
            "MASE": r.mase,
            "seconds": r.seconds,
            "recipe": r.recipe,
            **{name: r.settings.get(name) for name in searched},
            "error": r.error,
        }
        for r in results
    ]
    columns = ["trial", "state", "MASE", "seconds", "recipe", *searched, "error"]
    return pd.DataFrame(rows, columns=columns)


def _plot_trials(trials: pd.DataFrame, path: Path) -> None:
    """Validation MASE by trial, the best so far, and the recipe's as a line."""
    import numpy as np
    from matplotlib.figure import Figure

    from .files import atomic_path

    done = trials[(trials["state"] == "complete") & np.isfinite(trials["MASE"].astype(float))]
    fig = Figure(figsize=(7, 4), dpi=120)
    ax = fig.add_subplot()
    ax.plot(done["trial"], done["MASE"], "o", label="trial")
    ax.step(done["trial"], done["MASE"].cummin(), where="post", label="best so far")
    recipe = done[done["recipe"].astype(bool)]
    if len(recipe):
        ax.axhline(float(recipe["MASE"].iloc[0]), linestyle="--", color="grey", label="recipe")
    pruned = int((trials["state"] == "pruned").sum())
    note = f" ({pruned} pruned)" if pruned else ""
    ax.set(xlabel="trial", ylabel="validation MASE", title=f"Tuning: {len(trials)} trials{note}")
    ax.legend()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")

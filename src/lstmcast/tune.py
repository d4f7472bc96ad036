"""Tuning on validation only: Optuna searches the settings that matter, the recipe is trial 0.

Each trial trains on every series but its last ``n_windows * horizon`` points and is scored
(MASE) by a rolling-origin backtest over those points: the end of the user's training data,
never data after it. The recipe of :mod:`lstmcast.recipe` is enqueued as the first trial, so
tuning can only match or beat it on validation. Optuna's TPE sampler is seeded (the same trials
in the same order for the same seed and trial count), bad trials are pruned on their epoch
validation loss, and the study lives in ``<output>/study.db`` so an interrupted tuning resumes
(a resumed run keeps the finished trials and reseeds the sampler by their count).
The best settings are then trained once more on all the data.

Optuna is an optional extra: ``pip install 'lstmcast[tune]'``.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError
from .lstm_forecaster import LSTMForecaster
from .recipe import Recipe, choose, facts_of
from .train import Callback, History

if TYPE_CHECKING:
    import optuna
    import pandas as pd

STUDY_FILE = "study.db"
STUDY_NAME = "lstmcast"
TRIALS_FILE = "trials.csv"
PLOT_FILE = "trials.png"
# Trials Optuna's pruner lets finish before it compares (its median needs a few to be fair).
STARTUP_TRIALS = 3


@dataclass
class TuneResult:
    """What :func:`tune` found: the model retrained on all data with the best settings."""

    model: LSTMForecaster
    settings: dict[str, Any]
    score: float  # the best trial's validation MASE
    recipe_score: float | None  # trial 0's (the recipe's), when it ran in this study
    trials: pd.DataFrame  # number, state, value (MASE), seconds, and each setting


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise ConfigError(
            "tuning needs Optuna, an optional extra: pip install 'lstmcast[tune]'"
        ) from None
    return optuna


def search_space(
    trial: optuna.Trial, recipe: Recipe, shortest: int, fixed: dict[str, Any]
) -> dict[str, Any]:
    """The settings a trial tries around the recipe: window in whole seasons, network size,
    segment, learning rate, window normalisation, loss and dropout. Settings in ``fixed`` (the
    user's own) are not searched."""
    base = recipe.settings | fixed
    season, h = base["season_length"], base["horizon"]
    suggested: dict[str, Any] = {}
    if "window" not in fixed:
        longest = max(shortest - 2 * h, 1)
        if season > 1 and longest >= 2 * season:
            suggested["window"] = season * trial.suggest_int(
                "seasons", 2, min(14, longest // season)
            )
        else:
            suggested["window"] = trial.suggest_int("window", min(8, longest), longest, log=True)
    window = suggested.get("window", base["window"])
    if "segment" not in fixed:
        choices = {d for d in (1, season, recipe.settings["segment"]) if window % d == 0}
        suggested["segment"] = trial.suggest_categorical("segment", sorted(choices))
    searched: dict[str, Callable[[], Any]] = {
        "hidden_size": lambda: trial.suggest_categorical("hidden_size", [32, 64, 128, 256]),
        "num_layers": lambda: trial.suggest_int("num_layers", 1, 2),
        "lr": lambda: trial.suggest_float("lr", 3e-4, 1e-2, log=True),
        "window_norm": lambda: _none(
            trial.suggest_categorical("window_norm", ["revin", "last", "none"])
        ),
        "loss": lambda: trial.suggest_categorical("loss", ["mae", "mse"]),
        "dropout": lambda: trial.suggest_float("dropout", 0.0, 0.5),
    }
    for name, suggest in searched.items():
        if name not in fixed:
            suggested[name] = suggest()
    settings = base | suggested
    known = inspect.signature(LSTMForecaster).parameters  # what this estimator takes
    settings = {name: value for name, value in settings.items() if name in known}
    if settings["num_layers"] == 1 and "dropout" not in fixed:
        settings["dropout"] = 0.0  # torch's LSTM drops out between layers only
    return settings


def _none(choice: str) -> str | None:
    return None if choice == "none" else choice


def _recipe_params(recipe: Recipe, fixed: dict[str, Any]) -> dict[str, Any]:
    """The recipe as one point of :func:`search_space` (Optuna's enqueued first trial)."""
    s = recipe.settings | fixed
    params: dict[str, Any] = {
        "segment": s["segment"],
        "hidden_size": s["hidden_size"],
        "num_layers": s["num_layers"],
        "lr": s["lr"],
        "window_norm": s["window_norm"] or "none",
        "loss": s["loss"],
        "dropout": s.get("dropout", 0.0),
    }
    if s["season_length"] > 1 and s["window"] % s["season_length"] == 0:
        params["seasons"] = s["window"] // s["season_length"]
    else:
        params["window"] = s["window"]
    if "window" in fixed:
        params.pop("seasons", None)
    return {name: value for name, value in params.items() if name not in fixed}


class _Pruning(Callback):
    """Reports each epoch's validation loss to Optuna and stops a trial it prunes."""

    def __init__(self, trial: optuna.Trial) -> None:
        self.trial = trial

    def on_epoch_end(self, epoch: int, history: History) -> None:
        if history.val_loss:
            self.trial.report(history.val_loss[-1], epoch)
            if self.trial.should_prune():
                raise _optuna().TrialPruned()


def tune(
    df: Any,
    horizon: int,
    output: str | Path,
    *,
    time_budget: float = 900.0,
    n_trials: int | None = None,
    n_windows: int = 2,
    seed: int = 0,
    settings: dict[str, Any] | None = None,
    **columns: str | None,
) -> TuneResult:
    """Search settings for ``horizon``-step forecasts of ``df`` within ``time_budget`` seconds.

    ``output``: a folder for the study (``study.db``: run again to resume), the trials table
    (``trials.csv``), a plot of validation MASE by trial (``trials.png``) and the best model
    retrained on all of ``df`` (``model/``). ``n_trials``: trials in the study at most (None:
    the time budget alone stops it; trials start only while one more trial and the final
    training fit in it). ``settings``: LSTMForecaster settings fixed for every trial (not
    searched). ``columns``: ``id_col`` / ``time_col`` / ``target_col`` of a long ``df``.
    """
    optuna = _optuna()
    from .data import Panel
    from .files import write_frame
    from .scoring import evaluate

    started = time.monotonic()
    fixed = dict(settings or {})
    folder = Path(output)
    folder.mkdir(parents=True, exist_ok=True)
    panel = Panel.from_data(df, **columns)
    frame = panel.to_frame()
    held_out = n_windows * horizon
    recipe = choose(facts_of(panel, panel.steps(), horizon))
    shortest = int(panel.lengths.min()) - held_out
    if shortest < 3 * horizon:
        raise ConfigError(
            f"tuning holds out the last {held_out} points of each series ({n_windows} windows "
            f"of {horizon}); the shortest series keeps {shortest}, and training needs more "
            f"than {3 * horizon}: use fewer n_windows, or longer series"
        )
    trained = panel.head(panel.lengths - held_out).to_frame()
    season = (recipe.settings | fixed)["season_length"]

    def objective(trial: optuna.Trial) -> float:
        chosen = search_space(trial, recipe, shortest, fixed)
        model = LSTMForecaster(**chosen, random_state=seed)
        model.fit(trained, callbacks=[_Pruning(trial)])
        scored = model.backtest(frame, h=horizon, n_windows=n_windows)
        mase = float(evaluate(scored, train=trained, season_length=season).loc[model.alias, "MASE"])
        return mase if math.isfinite(mase) else float("inf")

    def stop_when_out_of_time(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        # One more trial and the final training (on a bit more data) must still fit.
        elapsed = time.monotonic() - started
        if elapsed + 2.5 * (elapsed / max(len(study.trials), 1)) > time_budget:
            study.stop()

    study = optuna.create_study(
        study_name=STUDY_NAME,
        storage=f"sqlite:///{(folder / STUDY_FILE).resolve()}",
        pruner=optuna.pruners.MedianPruner(n_startup_trials=STARTUP_TRIALS),
        direction="minimize",
        load_if_exists=True,
    )
    # Seeded by the trials already done: a resumed study draws new settings (not the first run's
    # again), the same ones each time it resumes from the same point.
    study.sampler = optuna.samplers.TPESampler(seed=seed + len(study.trials))
    left = None if n_trials is None else max(n_trials - len(study.trials), 0)
    if not study.trials:
        study.enqueue_trial(_recipe_params(recipe, fixed))
    if left != 0:
        study.optimize(
            objective, n_trials=left, timeout=time_budget, callbacks=[stop_when_out_of_time]
        )
    finished = [t for t in study.trials if t.value is not None and math.isfinite(t.value)]
    if not finished:
        raise ConfigError("no tuning trial finished within the time budget; give it more time")
    best = min(finished, key=lambda t: (t.value, t.number))
    best_settings = search_space(optuna.trial.FixedTrial(best.params), recipe, shortest, fixed)
    trials = _trials_table(study)
    write_frame(trials, folder / TRIALS_FILE)
    _plot_trials(trials, folder / PLOT_FILE)
    model = LSTMForecaster(**best_settings, random_state=seed).fit(frame)
    model.save(folder / "model")
    first = study.trials[0].value
    return TuneResult(model, best_settings, float(best.value), first, trials)


def _trials_table(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: number, state, validation MASE, seconds, and what it tried."""
    import pandas as pd

    rows = []
    for trial in study.trials:
        seconds = None
        if trial.datetime_start and trial.datetime_complete:
            seconds = (trial.datetime_complete - trial.datetime_start).total_seconds()
        rows.append(
            {"trial": trial.number, "state": trial.state.name, "MASE": trial.value}
            | {"seconds": seconds}
            | trial.params
        )
    return pd.DataFrame(rows)


def _plot_trials(trials: pd.DataFrame, path: Path) -> None:
    """Validation MASE by trial, and the best so far."""
    from matplotlib.figure import Figure

    from .files import atomic_path

    done = trials[trials["state"] == "COMPLETE"]
    fig = Figure(figsize=(7, 4), dpi=120)
    ax = fig.add_subplot()
    ax.plot(done["trial"], done["MASE"], "o", label="trial")
    ax.step(done["trial"], done["MASE"].cummin(), where="post", label="best so far")
    ax.set(xlabel="trial (0: the recipe)", ylabel="validation MASE", title="Tuning")
    ax.legend()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")

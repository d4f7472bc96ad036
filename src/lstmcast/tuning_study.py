"""The tuner's Optuna side: the study in the output folder, its trials, pruning, accounting.

Where it sits: :mod:`lstmcast.tuning` runs the trials; this module opens (or resumes) the study in
``<output>/study.db``, refuses to resume one of other data or settings, seeds the sampler,
enqueues the recipe's trial, prunes on the epochs' validation loss, and reads the trials back as
:class:`TrialResult`. Optuna (the optional extra ``tune``) is imported on use, never here.
"""

from __future__ import annotations

import contextlib
import functools
import math
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, TrainingError, option
from .tuning_space import describe

if TYPE_CHECKING:
    import optuna

STUDY_FILE = "study.db"
STUDY_NAME = "lstmcast"
INSTALL_HINT = "pip install 'lstmcast[tune]'"
# Complete trials of the same loss the pruner needs before it compares (a median of fewer is noise).
STARTUP_TRIALS = 3
# Trial user attributes: the recipe's trial, the searched settings tried, the loss its
# validation loss is in, its training's time budget and seconds, why it failed.
RECIPE, TRIED, LOSS, BUDGET, FIT_SECONDS, ERROR = (
    "recipe", "tried", "loss", "time_budget", "fit_seconds", "error",
)  # fmt: skip


def require_optuna() -> Any:
    """Optuna, or a ConfigError saying how to install it."""
    try:
        import optuna
    except ImportError:
        raise ConfigError(
            f"tuning needs Optuna, an optional extra that is not installed: {INSTALL_HINT}"
        ) from None
    return optuna


@dataclass(frozen=True)
class TrialResult:
    """One trial: its validation MASE (None unless complete) and the searched settings tried."""

    number: int
    state: str  # "complete", "pruned", "failed" or "running"
    mase: float | None
    seconds: float | None
    settings: dict[str, Any]
    recipe: bool  # the recipe's own settings
    error: str | None = None  # why it failed
    epochs: int | None = None  # epochs reported before it was pruned

    @classmethod
    def of(cls, trial: optuna.trial.FrozenTrial) -> TrialResult:
        seconds = None
        if trial.datetime_start is not None and trial.datetime_complete is not None:
            seconds = (trial.datetime_complete - trial.datetime_start).total_seconds()
        state = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed"}
        return cls(
            number=trial.number,
            state=state.get(trial.state.name, trial.state.name.lower()),
            mase=trial.value if trial.state.name == "COMPLETE" else None,
            seconds=seconds,
            settings=dict(trial.user_attrs.get(TRIED, {})),
            recipe=bool(trial.user_attrs.get(RECIPE, False)),
            error=trial.user_attrs.get(ERROR),
            epochs=trial.last_step if trial.state.name == "PRUNED" else None,
        )

    def line(self) -> str:
        """``trial 3: MASE 0.812 (window=336, ...)``: the progress line the CLI prints."""
        what = f"MASE {self.mase:.3f}" if self.mase is not None else self.state
        if self.epochs is not None:
            what += f" after epoch {self.epochs}"
        if self.error:
            what += f" ({' '.join(self.error.split())})"
        recipe = " (the recipe)" if self.recipe else ""
        tried = f"; {describe(self.settings)}" if self.settings else ""
        return f"trial {self.number}{recipe}: {what}{tried}"


def counted(study: optuna.Study) -> int:
    """Trials that count towards ``n_trials``: finished ones, and those failed by their
    settings (not those a Ctrl-C interrupted, which a resumed run tries again)."""
    return sum(
        t.state.name in ("COMPLETE", "PRUNED") or (t.state.name == "FAIL" and ERROR in t.user_attrs)
        for t in study.trials
    )


def final_fit_estimate(study: optuna.Study) -> float:
    """Seconds the best trial so far spent training: the final training's, on the trials' data."""
    done = [t for t in study.trials if t.state.name == "COMPLETE" and t.value is not None]
    if not done:
        return max((t.user_attrs.get(FIT_SECONDS, 0.0) for t in study.trials), default=0.0)
    return float(min(done, key=lambda t: (t.value, t.number)).user_attrs.get(FIT_SECONDS, 0.0))


def best_trial(study: optuna.Study, results: list[TrialResult]) -> optuna.trial.FrozenTrial:
    """The complete trial of lowest validation MASE (of equals the earliest: the recipe)."""
    scored = [t for t in study.trials if t.state.name == "COMPLETE" and math.isfinite(t.value)]
    if scored:
        return min(scored, key=lambda t: (t.value, t.number))
    errors = [r.line() for r in results if r.error][:1]
    why = f"; {errors[0]}" if errors else ""
    raise TrainingError(
        f"no tuning trial finished with a finite validation MASE ({len(results)} tried{why}); "
        f"give it more time ({option('time_budget')}) or fix settings that train (e.g. "
        f"{option('lr')})"
    )


def open_study(optuna: Any, folder: Path, identity: dict[str, Any], seed: int) -> optuna.Study:
    """The study in ``folder`` (created, or resumed when it tuned the same data and settings),
    its sampler seeded by ``seed`` and the trials already there."""
    path = folder / STUDY_FILE
    try:
        study = optuna.create_study(
            study_name=STUDY_NAME,
            storage=f"sqlite:///{path.resolve()}",
            pruner=_pruner_class()(),
            direction="minimize",
            load_if_exists=True,
        )
        saved = study.user_attrs.get("tuning")
    except Exception as error:  # any storage failure: the file is not a study we can read
        raise ConfigError(
            f"{str(path)!r} is not a tuning study lstmcast can read ({error}); tune into another "
            "output folder, or delete it to start over"
        ) from None
    if saved is None:
        study.set_user_attr("tuning", identity)
    elif saved != identity:
        differ = ", ".join(name for name in identity if saved.get(name) != identity[name])
        raise ConfigError(
            f"{str(path)!r} holds a tuning of different {differ}; to "
            "resume it, run with the same data, horizon, n_windows and fixed settings; else tune "
            "into another output folder, or delete it to start over"
        )
    # Seeded by the trials already there: a resumed study draws new settings (not the first
    # run's again), the same ones each time it resumes from the same point.
    study.sampler = optuna.samplers.TPESampler(seed=seed + len(study.trials))
    return study


@contextlib.contextmanager
def optuna_quiet(optuna: Any) -> Iterator[None]:
    """Optuna's own log lines off (trials are reported through ``on_trial``), then restored."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(verbosity)


@functools.cache
def _pruner_class() -> type:
    """The pruner's class, built on first use (it subclasses Optuna's, an optional extra)."""
    optuna = require_optuna()
    complete = (optuna.trial.TrialState.COMPLETE,)

    class SameLossMedianPruner(optuna.pruners.BasePruner):  # type: ignore[misc]
        """Prunes a trial whose best validation loss so far is above the median, at the same
        epoch, of the complete trials trained on the same loss (an MAE and an MSE are not
        comparable), once :data:`STARTUP_TRIALS` of them have a value there."""

        def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
            step = trial.last_step
            if step is None:
                return False
            loss = trial.user_attrs.get(LOSS)
            peers = [
                other.intermediate_values[step]
                for other in study.get_trials(deepcopy=False, states=complete)
                if other.user_attrs.get(LOSS) == loss and step in other.intermediate_values
            ]
            if len(peers) < STARTUP_TRIALS:
                return False
            return min(trial.intermediate_values.values()) > statistics.median(peers)

    return SameLossMedianPruner


class Reporter:
    """Reports the first network's validation loss after each epoch to Optuna, and stops a
    trial the pruner cuts (a Callback by duck typing: :func:`lstmcast.train.notify`)."""

    def __init__(self, trial: optuna.Trial) -> None:
        self.trial = trial
        self.member = 0

    def on_member_begin(self, member: int, members: int) -> None:
        self.member = member

    def on_epoch_end(self, epoch: int, history: Any) -> None:
        if self.member == 0 and history.val_loss:
            self.trial.report(history.val_loss[-1], epoch)
            if self.trial.should_prune():
                raise require_optuna().TrialPruned(f"pruned after epoch {epoch}")


def enqueue_recipe(study: optuna.Study, params: dict[str, Any]) -> None:
    """Put the recipe's trial (``params``) first in line, unless one is complete, pruned or
    waiting already (one a Ctrl-C interrupted runs again)."""
    kept = ("COMPLETE", "PRUNED", "WAITING")
    if not any(t.user_attrs.get(RECIPE) and t.state.name in kept for t in study.trials):
        study.enqueue_trial(params, user_attrs={RECIPE: True})

"""Run tracking: training callbacks that log a fit to TensorBoard or MLflow.

Where it sits: beside the training loop, as :class:`~lstmcast.train.Callback` objects that
``LSTMForecaster.fit`` calls (neither the loop nor the estimator imports this module). One
logger records one fit as one run:

- while training: the training loss every ``batch_every`` optimizer steps (the mean of those
  batches) beside the learning rate the step took, and each epoch's train and validation loss;
- when fit ends: every setting as used (given, default or chosen by the recipe, and why), the
  seed, each network's best epoch and why its training stopped, and the validation diagnostics
  (the model's MASE beside seasonal naive's, its skill against both baselines, the alarms);
- after it, :meth:`RunLogger.log_backtest`: a backtest's metrics table, per model.

An ensemble's networks log under ``member_<k>/`` (k from 1), each with its own steps; a single
network logs without a prefix. Inside a ``torch.distributed`` process group only rank 0 writes.
TensorBoard and MLflow are optional: ``pip install 'lstmcast[track]'``.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from . import distributed
from .checks import Rule
from .errors import ConfigError
from .settings import is_auto
from .train import Callback, History

if TYPE_CHECKING:
    import pandas as pd

INSTALL_HINT = "pip install 'lstmcast[track]'"
# MLflow's default experiment name for lstmcast's runs, and its store without a URI.
DEFAULT_EXPERIMENT = "lstmcast"
DEFAULT_MLFLOW_STORE = "mlruns"
# MLflow 3 refuses its file store unless this variable says yes: asking lstmcast to log to a
# file store (the default) is that yes. A value the user set is kept.
ALLOW_FILE_STORE = "MLFLOW_ALLOW_FILE_STORE"
# MLflow refuses longer tag values (its file store's limit is 8000 characters).
MAX_TAG_LENGTH = 5000
# MLflow takes at most this many metrics in one log_batch call.
MLFLOW_BATCH = 1000
# TensorBoard events buffered for its writer thread before add_scalar waits.
EVENT_QUEUE = 1000

# What a run holds, by name (an ensemble member's under member_<k>/).
BATCH_LOSS = "loss/train_batch"
LEARNING_RATE = "lr"
TRAIN_LOSS = "loss/train"
VAL_LOSS = "loss/val"


def require_tensorboard() -> None:
    """Refuse, with how to install it, when the tensorboard package is missing."""
    try:
        import tensorboard  # noqa: F401  (SummaryWriter writes with it)
    except ImportError:
        raise ConfigError(
            f"logging to TensorBoard needs the tensorboard package, an optional extra that is "
            f"not installed: {INSTALL_HINT}"
        ) from None


def require_mlflow() -> Any:
    """The ``mlflow`` module (from mlflow-skinny or mlflow), or a ConfigError saying how to
    install it."""
    try:
        import mlflow
    except ImportError:
        raise ConfigError(
            f"logging to MLflow needs MLflow, an optional extra that is not installed: "
            f"{INSTALL_HINT}"
        ) from None
    return mlflow


def mlflow_store(tracking_uri: str | os.PathLike[str] | None) -> str:
    """The MLflow tracking URI runs go to: ``tracking_uri``, else ``$MLFLOW_TRACKING_URI``, else
    the file store ``./mlruns``; a plain path is a file store there (as an absolute URI)."""
    given = tracking_uri if tracking_uri is not None else os.environ.get("MLFLOW_TRACKING_URI")
    text = os.fspath(given) if given else DEFAULT_MLFLOW_STORE
    if "://" in text or text.startswith("file:"):
        return text
    return Path(text).expanduser().resolve().as_uri()


def is_file_store(uri: str) -> bool:
    """Whether MLflow tracking URI ``uri`` names a file store (a local directory)."""
    return uri.startswith("file:")


def store_directory(tracking_uri: str | os.PathLike[str] | None) -> Path | None:
    """The local directory of the MLflow store runs go to (None: not a file store)."""
    uri = mlflow_store(tracking_uri)
    if not is_file_store(uri):
        return None
    from urllib.parse import unquote, urlparse

    return Path(unquote(urlparse(uri).path))


def settings_table(model: Any) -> list[tuple[str, str, str]]:
    """Every setting of ``model`` as (name, value as text, where it came from): "recipe" (chosen
    from the data), "default" (the estimator's) or "given"."""
    defaults = inspect.signature(type(model)).parameters
    asked = model.get_params()  # "auto" for the settings the recipe chose
    rows = []
    for name, value in model.settings_.items():
        if is_auto(asked[name]):
            source = "recipe"
        elif name in defaults and defaults[name].default == value:
            source = "default"
        else:
            source = "given"
        rows.append((name, str(value), source))
    return rows


def diagnostics_metrics(diagnostics: Any) -> dict[str, float]:
    """The validation diagnostics as numbers (``validation/...``); empty without them."""
    if diagnostics is None:
        return {}
    frame = diagnostics.series
    return {
        "validation/mase": diagnostics.mase,
        "validation/mase_seasonal_naive": diagnostics.mase_seasonal,
        "validation/skill_seasonal_naive": diagnostics.skill_seasonal,
        # Per series 1 - MAE / the naive forecast's MAE, averaged over series.
        "validation/skill_naive": frame["skill_naive"].mean(),
        "validation/series": len(frame),
        "validation/series_losing_to_seasonal_naive": int(frame["loses_to_seasonal"].sum()),
        "validation/flat_series": int(frame["flat"].sum()),
        "validation/lagged_copies": int((frame["lag"] > 0).sum()),
    }


def backtest_metrics(metrics: pd.DataFrame, prefix: str = "backtest") -> dict[str, float]:
    """A metrics table (models as rows, as :func:`lstmcast.evaluate` returns) as
    ``<prefix>/<model>/<metric>`` numbers."""
    return {
        f"{prefix}/{model}/{column}": row[column]
        for model, row in metrics.iterrows()
        for column in metrics.columns
    }


def defined(values: dict[str, Any]) -> dict[str, float]:
    """``values`` as floats, without the undefined ones (None, NaN, infinite: no MASE scale, a
    skill against an exact baseline), which neither store takes as a number."""
    found = {}
    for name, value in values.items():
        if value is not None and math.isfinite(float(value)):
            found[name] = float(value)
    return found


class RunLogger(Callback):
    """What both loggers record, and when: the hooks of :class:`~lstmcast.train.Callback`
    turned into scalars (by name and step) and notes (by name); subclasses write them.

    One logger records one fit, and what follows it (:meth:`log_backtest`); a second fit is
    refused (make a new logger). Use it as a context manager, or call :meth:`close`, so the
    run is closed (and marked failed when fit raised).
    """

    def __init__(self, batch_every: int = 1) -> None:
        Rule(int, 1).check("batch_every", batch_every)
        self.batch_every = batch_every
        self._state = "new"  # "new", "open" (rank 0), "elsewhere" (another rank), "closed"
        self._fitted = False
        self._prefix = ""  # the member's, "member_<k>/" in an ensemble
        self._step, self._lr = 0, math.nan
        self._loss_sum, self._losses = 0.0, 0
        self._interrupted = False

    # -- what subclasses write -----------------------------------------------------------------
    def _open(self) -> None:
        """Start the run (rank 0 only)."""
        raise NotImplementedError

    def _scalars(self, values: dict[str, float], step: int) -> None:
        raise NotImplementedError

    def _notes(self, notes: dict[str, str]) -> None:
        """Text by name: why training stopped, the recipe, summaries."""
        raise NotImplementedError

    def _settings(self, model: Any, final: bool) -> None:
        """The model's settings: when fit begins (``final`` False) and when it ends."""
        raise NotImplementedError

    def _fit_ended(self, model: Any, metrics: dict[str, float]) -> None:
        """After the final ``metrics`` and notes of a fit were written."""

    def _flush(self) -> None:
        """Write what is buffered."""

    def _close(self, status: str) -> None:
        """End the run: "FINISHED", "KILLED" (Ctrl-C) or "FAILED" (an exception)."""
        raise NotImplementedError

    # -- the run ---------------------------------------------------------------------------------
    @property
    def writing(self) -> bool:
        """Whether this process writes the run (rank 0, started, not closed)."""
        return self._state == "open"

    def _start(self) -> bool:
        if self._state == "new":
            # Decided when the first fit begins: the process group exists by then.
            self._state = "open" if distributed.rank() == 0 else "elsewhere"
            if self._state == "open":
                self._open()
        return self.writing

    def close(self, failed: bool = False) -> None:
        """Write what is left and end the run (marked failed with ``failed``); then it takes
        nothing more. Closing twice does nothing."""
        if self.writing:
            self._flush()
            self._close("FAILED" if failed else "KILLED" if self._interrupted else "FINISHED")
        self._state = "closed"

    def __enter__(self) -> RunLogger:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is not None and issubclass(kind, KeyboardInterrupt):
            self._interrupted = True
            kind = None
        self.close(failed=kind is not None)

    def log_settings(self, model: Any) -> None:
        """Record ``model``'s settings (fit does when it begins; a backtest with ``refit``,
        which trains its own copies, records the planned model's so)."""
        if self._start():
            self._settings(model, final=False)

    def log_metrics(self, values: dict[str, float], step: int = 0) -> None:
        """Record numbers by name at ``step`` (an undefined one, NaN or infinite, is left out)."""
        if self._start():
            self._scalars(defined(values), step)
            self._flush()

    def log_notes(self, notes: dict[str, str]) -> None:
        """Record text by name (MLflow: tags; TensorBoard: text)."""
        if self._start():
            self._notes(notes)

    def log_backtest(self, metrics: pd.DataFrame, summary: str | None = None) -> None:
        """Record a backtest's metrics table (models as rows, metrics as columns, as
        :func:`lstmcast.evaluate` returns) as ``backtest/<model>/<metric>``, and its one-line
        alarm summary as the note ``backtest/summary``."""
        self.log_metrics(backtest_metrics(metrics))
        if summary is not None:
            self.log_notes({"backtest/summary": summary})

    # -- the hooks fit calls ---------------------------------------------------------------------
    def on_fit_begin(self, model: Any) -> None:
        if self._fitted:
            raise ConfigError(
                f"a {type(self).__name__} records one fit; make a new one for each fit"
            )
        self._fitted = True
        self.log_settings(model)

    def on_member_begin(self, member: int, members: int) -> None:
        self._prefix = f"member_{member + 1}/" if members > 1 else ""

    def on_train_begin(self, epochs: int, batches_per_epoch: int) -> None:
        self._start()  # also when used with lstmcast.train.train alone
        self._loss_sum, self._losses = 0.0, 0

    def on_optimizer_step(self, step: int, lr: float) -> None:
        self._step, self._lr = step, lr

    def on_batch_end(self, epoch: int, batch: int, loss: float) -> None:
        if not self.writing:
            return
        self._loss_sum += loss
        self._losses += 1
        if self._step % self.batch_every == 0:
            values = {BATCH_LOSS: self._loss_sum / self._losses, LEARNING_RATE: self._lr}
            self._scalars(self._named(defined(values)), self._step)
            self._loss_sum, self._losses = 0.0, 0

    def on_epoch_end(self, epoch: int, history: History) -> None:
        if not self.writing:
            return
        values = {TRAIN_LOSS: history.train_loss[-1]}
        if history.val_loss:
            values[VAL_LOSS] = history.val_loss[-1]
        self._scalars(self._named(defined(values)), epoch)
        self._flush()

    def on_train_end(self, history: History) -> None:
        self._interrupted = self._interrupted or history.interrupted
        if not self.writing:
            return
        values: dict[str, Any] = {
            "epochs_run": len(history.train_loss),
            "train_seconds": history.seconds,
        }
        if history.best_epoch is not None:
            values["best_epoch"] = history.best_epoch
            if history.val_loss:
                values["loss/best_val"] = history.val_loss[history.best_epoch - 1]
        self._scalars(self._named(defined(values)), 0)
        self._notes(self._named({"stopped": history.stopped}))
        self._flush()

    def on_fit_end(self, model: Any) -> None:
        if not self.writing:
            return
        diagnostics = model.diagnostics_
        metrics = defined({"networks": len(model.networks_), **diagnostics_metrics(diagnostics)})
        self._settings(model, final=True)
        self._scalars(metrics, 0)
        notes = {"recipe": "\n".join(model.recipe_) or "every setting was given"}
        if diagnostics is not None:
            notes["validation/summary"] = diagnostics.summary()
        self._notes(notes)
        self._fit_ended(model, metrics)
        self._flush()

    def _named(self, values: dict[str, Any]) -> dict[str, Any]:
        return {self._prefix + name: value for name, value in values.items()}


class TensorBoardLogger(RunLogger):
    """Log a fit to TensorBoard: event files in ``log_dir`` (``tensorboard --logdir DIR``).

    Written with ``torch.utils.tensorboard.SummaryWriter``. Scalars: the training loss
    (``loss/train_batch``) and learning rate (``lr``) every ``batch_every`` optimizer steps, the
    epoch losses (``loss/train``, ``loss/val``) by epoch, and when fit ends each network's
    ``best_epoch``, ``epochs_run``, ``train_seconds`` and the validation diagnostics
    (``validation/...``). Text: the settings table, the recipe, why training stopped, the
    summaries. The settings and final metrics also go to the HPARAMS tab, to compare runs.
    """

    def __init__(self, log_dir: str | os.PathLike[str], batch_every: int = 1) -> None:
        require_tensorboard()
        super().__init__(batch_every)
        self.log_dir = Path(log_dir)
        self._writer: Any = None
        self._pending: list[tuple[str, float, int]] = []

    def _open(self) -> None:
        from torch.utils.tensorboard import SummaryWriter

        # Its events are written by a background thread that takes the GIL from the training
        # loop: scalars are kept until the epoch ends (_flush), then queued at once (a queue
        # that holds them: SummaryWriter's default, 10, makes add_scalar wait for the thread).
        self._writer = SummaryWriter(log_dir=str(self.log_dir), max_queue=EVENT_QUEUE)

    def _scalars(self, values: dict[str, float], step: int) -> None:
        self._pending += [(name, value, step) for name, value in values.items()]

    def _notes(self, notes: dict[str, str]) -> None:
        for name, text in notes.items():
            # Markdown: keep each line a line.
            self._writer.add_text(name, text.replace("\n", "  \n"), 0)

    def _settings(self, model: Any, final: bool) -> None:
        if not final:  # the table shows the values used, known when fit ends
            return
        rows = ["| setting | value | from |", "|---|---|---|"]
        rows += [
            f"| {name} | {value} | {source} |" for name, value, source in settings_table(model)
        ]
        rows.append(f"| seed | {model.seed_} | used |")
        self._writer.add_text("settings", "\n".join(rows), 0)

    def _fit_ended(self, model: Any, metrics: dict[str, float]) -> None:
        from torch.utils.tensorboard.summary import hparams

        settings = {
            name: value if isinstance(value, bool | int | float | str) else str(value)
            for name, value in model.settings_.items()
        }
        # The HPARAMS tab: this run's settings beside its final metrics (logged as scalars).
        for summary in hparams(settings | {"seed": model.seed_}, metrics):
            self._writer.file_writer.add_summary(summary)

    def _flush(self) -> None:
        for name, value, step in self._pending:
            self._writer.add_scalar(name, value, step)
        self._pending = []
        self._writer.flush()

    def _close(self, status: str) -> None:
        self._writer.close()


class MLflowLogger(RunLogger):
    """Log a fit to MLflow: one run in ``experiment`` (created when missing).

    ``tracking_uri``: where runs go: a directory (a file store), any MLflow tracking URI (a
    server, ``sqlite:///mlflow.db``, ...), or None: ``$MLFLOW_TRACKING_URI`` if set, else the
    file store ``./mlruns``. ``run_name``: None lets MLflow name the run.

    Params: every setting as used (``ensemble_size`` when fit ends: under a time budget the
    recipe's is a most) and the seed. Metrics as :class:`TensorBoardLogger`'s scalars, with
    steps. Tags: ``stopped`` (per network), ``recipe``, ``recipe.chosen``, ``validation/summary``,
    ``backtest/summary`` and the versions of lstmcast and torch. Written through
    ``MlflowClient``, never MLflow's active run, so a run the caller has open is left alone.
    """

    def __init__(
        self,
        tracking_uri: str | os.PathLike[str] | None = None,
        experiment: str = DEFAULT_EXPERIMENT,
        run_name: str | None = None,
        batch_every: int = 1,
    ) -> None:
        require_mlflow()
        super().__init__(batch_every)
        self.tracking_uri = mlflow_store(tracking_uri)
        self.experiment = experiment
        self.run_name = run_name
        self.run_id: str | None = None  # set when the run starts
        self._client: Any = None
        self._pending: list[Any] = []

    @contextlib.contextmanager
    def _store(self) -> Iterator[Any]:
        """The client, with MLflow's refusals (a store it will not open, a run it will not
        take) raised as a ConfigError naming the store."""
        from mlflow.exceptions import MlflowException

        try:
            yield self._client
        except MlflowException as error:
            raise ConfigError(
                f"cannot log to MLflow at {self.tracking_uri}: {error.message}"
            ) from None

    def _open(self) -> None:
        from mlflow.tracking import MlflowClient

        from .card import versions

        if is_file_store(self.tracking_uri):
            os.environ.setdefault(ALLOW_FILE_STORE, "true")
        with self._store():
            self._client = MlflowClient(tracking_uri=self.tracking_uri)
            found = self._client.get_experiment_by_name(self.experiment)
            experiment_id = (
                found.experiment_id
                if found is not None
                else self._client.create_experiment(self.experiment)
            )
            tags = {f"{name}.version": version for name, version in versions().items()}
            run = self._client.create_run(experiment_id, run_name=self.run_name, tags=tags)
        self.run_id = run.info.run_id

    def _scalars(self, values: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self._pending += [Metric(name, value, now, step) for name, value in values.items()]

    def _notes(self, notes: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        tags = [RunTag(name, text[:MAX_TAG_LENGTH]) for name, text in notes.items()]
        with self._store() as client:
            client.log_batch(self.run_id, tags=tags)

    def _settings(self, model: Any, final: bool) -> None:
        from mlflow.entities import Param

        # MLflow refuses a param logged twice with another value: ensemble_size, which a time
        # budget may cut, is logged at the end, the others at the start.
        rows = settings_table(model)
        params = {name: value for name, value, _ in rows}
        if final:
            chosen = [name for name, _, source in rows if source == "recipe"]
            self._notes({"recipe.chosen": ", ".join(chosen) or "none"})
            logged = {"ensemble_size": params["ensemble_size"]}
        else:
            logged = {name: value for name, value in params.items() if name != "ensemble_size"}
            # A planned model (a backtest with refit, whose copies train later) has no seed_.
            seed = getattr(model, "seed_", None)
            logged["seed"] = str(model.random_state if seed is None else seed)
        with self._store() as client:
            client.log_batch(
                self.run_id, params=[Param(name, value) for name, value in logged.items()]
            )

    def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:MLFLOW_BATCH], self._pending[MLFLOW_BATCH:]
            with self._store() as client:
                client.log_batch(self.run_id, metrics=batch)

    def _fit_ended(self, model: Any, metrics: dict[str, float]) -> None:
        self._flush()
        # The fit is over: the run reads as finished even if the caller never closes it.
        self._close("KILLED" if self._interrupted else "FINISHED")

    def _close(self, status: str) -> None:
        with self._store() as client:
            client.set_terminated(self.run_id, status)

"""Every multi-process check of tests/test_distributed.py in one torchrun launch (2 processes).

    python -m torch.distributed.run --standalone --nproc-per-node 2 \\
        tests/distributed_worker.py WORK

WORK holds ``equivalence.csv``, ``data/`` (CSV and Parquet files), ``one.csv`` (every series
of ``data/`` in one file) and ``single.csv`` (one of them); the worker writes there:

1. ``weights-rank<r>.safetensors``: each rank's weights after fitting ``equivalence.csv`` through
   the Python API (the same data on both ranks, per-rank batch ``BATCH // 2``);
   ``budget-rank<r>.json``: each rank's history after fitting it again with a time budget that
   only rank 1's (faked) clock runs out of; ``weights-covariates-rank<r>.safetensors``: the
   same fit of ``covariates.csv`` (with a future-known and a past-only column), saved as
   ``model-covariates/`` and forecast into ``forecast-cov/`` with ``--futr-data``;
2. ``model/``: ``lstmcast train data`` (each rank its files), its run tracked (when the extra
   is installed) in ``tb/`` (TensorBoard) and ``mlruns/`` (MLflow);
3. ``forecast/``: ``lstmcast forecast model`` (each rank its part);
   ``forecast-one/``: ``lstmcast forecast model --data one.csv`` (each rank its share of the
   file's series), ``forecast-single/`` the same for ``single.csv``;
   ``model-one/``: ``lstmcast train one.csv`` (every rank all series, each its share of the
   windows); ``model-thin/``: ``lstmcast train data`` with intervals calibrated on too few
   whole horizons for 95%, forecast into ``forecast-thin/`` at 95% (both warn on rank 0);
4. ``checkpoint/``: ``lstmcast train data`` again, where rank 1 kills itself in epoch 2, so the
   launch ends there, failed.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import save_file

import lstmcast as lc
from lstmcast import cli
from lstmcast.cli import train

torch.set_num_threads(1)

# Windows per training batch of one process; each of two processes takes half.
BATCH = 16
EQUIVALENCE = {
    "recipe": "tutorial",
    "window": 8,
    "hidden_size": 6,
    "epochs": 2,
    "lr": 0.01,
    "random_state": 3,
}
TRAIN_OPTIONS = [
    "--recipe",
    "tutorial",
    "--window",
    "8",
    "--hidden-size",
    "6",
    "--epochs",
    "3",
    "--val-size",
    "8",
]
TRAIN_OPTIONS += ["--seed", "0", "--quiet"]
KILLED_AT = (2, 2)  # rank 1 dies at the end of this (epoch, batch)


def fit_equivalence(work: Path) -> None:
    df = lc.read_csv(work / "equivalence.csv")
    model = lc.LSTMForecaster(batch_size=BATCH // 2, **EQUIVALENCE).fit(df)
    save_file(model.network_.state_dict(), work / f"weights-rank{dist.get_rank()}.safetensors")


COVARIATES = {"futr_cols": ["promo"], "hist_cols": ["sensor"]}


def fit_covariates(work: Path) -> None:
    """``covariates.csv`` (equivalence.csv's series with a future-known and a past-only
    column), fitted as ``fit_equivalence`` does."""
    df = lc.read_csv(work / "covariates.csv", covariate_cols=["sensor", "promo"])
    model = lc.LSTMForecaster(batch_size=BATCH // 2, **EQUIVALENCE, **COVARIATES).fit(df)
    name = f"weights-covariates-rank{dist.get_rank()}.safetensors"
    save_file(model.network_.state_dict(), work / name)
    model.save(work / "model-covariates")  # every rank calls save
    future = work / "covariates-future.csv"
    run("forecast", work / "model-covariates", "--futr-data", future, "-o", work / "forecast-cov")


def fit_on_budget(work: Path) -> None:
    """Fit with a time budget of 25 s that rank 1's clock, 10 s a reading, runs out of after
    epoch 1 (20 s + an epoch of 10 s > 25 s) while rank 0's stands still."""
    import lstmcast.train

    step = 10.0 if dist.get_rank() == 1 else 0.0
    readings = itertools.count()
    lstmcast.train.clock = lambda: step * next(readings)  # type: ignore[assignment]
    try:
        df = lc.read_csv(work / "equivalence.csv")
        settings = EQUIVALENCE | {"epochs": 4, "time_budget": 25.0}
        model = lc.LSTMForecaster(batch_size=BATCH // 2, **settings).fit(df)
    finally:
        lstmcast.train.clock = time.perf_counter
    history = model.history_.to_dict()
    (work / f"budget-rank{dist.get_rank()}.json").write_text(json.dumps(history))


class KillRank1(lc.Callback):
    def on_batch_end(self, epoch: int, batch: int, loss: float) -> None:
        if (epoch, batch) == KILLED_AT and int(os.environ["RANK"]) == 1:
            os.kill(os.getpid(), signal.SIGKILL)


@contextlib.contextmanager
def killing_progress(quiet: bool) -> Iterator[list[lc.Callback]]:
    yield [KillRank1()]


def tracking(work: Path) -> list[str | Path]:
    """The run-tracking flags, when the extra is installed (only rank 0 may write)."""
    if not all(importlib.util.find_spec(name) for name in ("tensorboard", "mlflow")):
        return []
    return ["--tensorboard", work / "tb", "--mlflow-uri", work / "mlruns"]


def run(*args: str | Path) -> None:
    cli.app([str(arg) for arg in args], standalone_mode=False)


def main() -> None:
    work = Path(sys.argv[1])
    # One process group for every step (the CLI commands join it): gloo cannot rejoin reliably
    # in a process that left a group.
    dist.init_process_group("gloo")
    fit_equivalence(work)
    fit_covariates(work)
    fit_on_budget(work)
    run("train", work / "data", "-o", work / "model", *TRAIN_OPTIONS, *tracking(work))
    run("forecast", work / "model", "-o", work / "forecast", "--level", "80")
    run("forecast", work / "model", "--data", work / "one.csv", "-o", work / "forecast-one")
    run("forecast", work / "model", "--data", work / "single.csv", "-o", work / "forecast-single")
    run("train", work / "one.csv", "-o", work / "model-one", *TRAIN_OPTIONS)
    # 12 series x 2 validation windows of 4 steps: enough windows for 95%, too few horizons.
    thin = [*TRAIN_OPTIONS, "--horizon", "4", "--val-size", "5"]
    run("train", work / "data", "-o", work / "model-thin", *thin)
    run("forecast", work / "model-thin", "-o", work / "forecast-thin", "--level", "95")
    train.training_progress = killing_progress  # type: ignore[assignment]
    run("train", work / "data", "-o", work / "checkpoint", *TRAIN_OPTIONS)


if __name__ == "__main__":
    main()

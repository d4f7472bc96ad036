"""Run tracking: the TensorBoard and MLflow loggers write runs that their own readers read back.

TensorBoard's event files are read with ``EventAccumulator``, MLflow's file store with
``MlflowClient``: the losses by batch and epoch (per ensemble member), the learning rate, every
setting, the final diagnostics and a backtest's table, through the API and the command line.
Also: only rank 0 writes, a missing extra is one clear error, and runs end with the right status.
"""

from __future__ import annotations

import builtins
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner, Result

pytest.importorskip("tensorboard")
pytest.importorskip("mlflow")

from mlflow.tracking import MlflowClient
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

import lstmcast as lc
from lstmcast import cli, distributed, tracking
from lstmcast.optim import schedule_at
from tests.test_cli import assert_one_error_line, write_csv

# Two tiny networks, validated, on a schedule: every kind of figure a run holds.
SMALL = {
    "window": 14,
    "horizon": 7,
    "hidden_size": 8,
    "epochs": 3,
    "batch_size": 16,
    "val_size": 14,
    "lr_schedule": "onecycle",
    "ensemble_size": 2,
    "random_state": 0,
}
# One network (its figures carry no member prefix), fast.
TINY_FLAGS = ["--window", "14", "--hidden-size", "8", "--epochs", "2", "--ensemble-size", "1"]
TINY_FLAGS += ["--seed", "0"]


@pytest.fixture(autouse=True)
def _mlflow_file_store(monkeypatch: pytest.MonkeyPatch) -> None:
    # The readers below open the file store too; nothing leaks into other tests.
    monkeypatch.setenv(tracking.ALLOW_FILE_STORE, "true")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def series(n: int = 120) -> pd.DataFrame:
    """Two daily series: a weekly cycle and a trend, with a little noise."""
    rng = np.random.default_rng(0)
    t = np.arange(n)
    ds = pd.date_range("2024-01-01", periods=n, freq="D")
    shapes = {"a": 10 + np.sin(2 * np.pi * t / 7), "b": 20 + 0.1 * t}
    return pd.concat(
        pd.DataFrame({"unique_id": name, "ds": ds, "y": y + rng.normal(0, 0.1, n)})
        for name, y in shapes.items()
    )


def events(directory: Path) -> EventAccumulator:
    found = EventAccumulator(str(directory), size_guidance={"scalars": 0, "tensors": 0})
    found.Reload()
    return found


def scalars(run: EventAccumulator, tag: str) -> list[tuple[int, float]]:
    return [(event.step, event.value) for event in run.Scalars(tag)]


def text(run: EventAccumulator, tag: str) -> str:
    return run.Tensors(f"{tag}/text_summary")[0].tensor_proto.string_val[0].decode()


def history(client: MlflowClient, run_id: str, key: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in client.get_metric_history(run_id, key)]


class BatchLosses(lc.Callback):
    """Every batch loss and learning rate the loop reports, per member."""

    def __init__(self) -> None:
        self.losses: list[list[float]] = []
        self.rates: list[list[float]] = []

    def on_train_begin(self, epochs: int, batches_per_epoch: int) -> None:
        self.losses.append([])
        self.rates.append([])

    def on_optimizer_step(self, step: int, lr: float) -> None:
        assert step == len(self.rates[-1]) + 1
        self.rates[-1].append(lr)

    def on_batch_end(self, epoch: int, batch: int, loss: float) -> None:
        self.losses[-1].append(loss)


class Hooks(lc.Callback):
    """The hooks fit calls, in order (each step's hook counted, not listed)."""

    def __init__(self, fail_at_epoch: int | None = None) -> None:
        self.calls: list[str] = []
        self.steps = 0
        self.fail_at_epoch = fail_at_epoch

    def on_fit_begin(self, model: Any) -> None:
        assert model.settings_["window"] == 14
        assert model.settings_["season_length"] == 7
        assert isinstance(model.seed_, int)
        assert model.recipe_
        self.calls.append("fit_begin")

    def on_ensemble_begin(self, members: int, as_budget_allows: bool) -> None:
        self.calls.append("ensemble_begin")

    def on_optimizer_step(self, step: int, lr: float) -> None:
        self.steps += 1

    def on_epoch_end(self, epoch: int, history: lc.History) -> None:
        if epoch == self.fail_at_epoch:
            raise lc.DataError("a callback's own error")

    def on_train_end(self, history: lc.History) -> None:
        self.calls.append("train_end")

    def on_fit_end(self, model: Any) -> None:
        assert model.diagnostics_ is not None
        self.calls.append("fit_end")


def test_fit_calls_its_hooks_around_the_training() -> None:
    hooks = Hooks()
    model = lc.LSTMForecaster(**SMALL | {"ensemble_size": 1}).fit(series(), callbacks=[hooks])
    assert hooks.calls == ["fit_begin", "ensemble_begin", "train_end", "fit_end"]
    history = model.history_
    assert hooks.steps == len(history.train_loss) * -(-history.train_windows // model.batch_size)
    # A fit that raises ends without on_fit_end.
    failing = Hooks(fail_at_epoch=1)
    with pytest.raises(lc.DataError, match="a callback's own error"):
        lc.LSTMForecaster(**SMALL).fit(series(), callbacks=[failing])
    assert failing.calls == ["fit_begin", "ensemble_begin", "train_end"]


@pytest.fixture(scope="module")
def fitted_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One fit logged to both, with every batch loss and rate the loop reported."""
    work = tmp_path_factory.mktemp("tracking")
    seen = BatchLosses()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(tracking.ALLOW_FILE_STORE, "true")
        board = lc.TensorBoardLogger(work / "tb")
        flow = lc.MLflowLogger(work / "mlruns", experiment="tests", run_name="small")
        with board, flow:
            model = lc.LSTMForecaster(**SMALL).fit(series(), callbacks=[seen, board, flow])
    return {"work": work, "model": model, "seen": seen, "run_id": flow.run_id}


def test_tensorboard_run_holds_losses_rates_settings_and_diagnostics(
    fitted_runs: dict[str, Any],
) -> None:
    model, seen = fitted_runs["model"], fitted_runs["seen"]
    run = events(fitted_runs["work"] / "tb")
    assert len(model.histories_) == 2
    for member, trained in enumerate(model.histories_):
        prefix = f"member_{member + 1}/"
        losses = scalars(run, prefix + "loss/train_batch")
        assert [step for step, _ in losses] == list(range(1, len(seen.losses[member]) + 1))
        np.testing.assert_allclose([v for _, v in losses], seen.losses[member], rtol=1e-6)
        rates = [v for _, v in scalars(run, prefix + "lr")]
        np.testing.assert_allclose(rates, seen.rates[member], rtol=1e-6)
        total = len(rates)
        expected = [schedule_at("onecycle", k, total, float(model.lr))[0] for k in range(total)]
        np.testing.assert_allclose(rates, expected, rtol=1e-6)
        epochs = scalars(run, prefix + "loss/train")
        assert [step for step, _ in epochs] == [1, 2, 3]
        np.testing.assert_allclose([v for _, v in epochs], trained.train_loss, rtol=1e-6)
        val = [v for _, v in scalars(run, prefix + "loss/val")]
        np.testing.assert_allclose(val, trained.val_loss, rtol=1e-6)
        assert scalars(run, prefix + "best_epoch") == [(0, trained.best_epoch)]
        assert text(run, prefix + "stopped") == "epochs"
    diagnostics = model.diagnostics_
    (mase,) = scalars(run, "validation/mase")
    assert mase[1] == pytest.approx(diagnostics.mase, rel=1e-6)
    (skill,) = scalars(run, "validation/skill_seasonal_naive")
    assert skill[1] == pytest.approx(diagnostics.skill_seasonal, rel=1e-6)
    assert scalars(run, "networks") == [(0, 2.0)]
    assert text(run, "validation/summary") == diagnostics.summary()
    table = text(run, "settings")
    for name, value in model.settings_.items():
        assert f"| {name} | {value} |" in table
    assert "| season_length | 7 | recipe |" in table  # chosen from the daily data
    assert "| window | 14 | given |" in table
    assert f"| seed | {model.seed_} | used |" in table
    assert text(run, "recipe").startswith(model.recipe_[0])
    # The HPARAMS tab: every setting beside the final metrics.
    content = run.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    hparams = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info.hparams
    assert hparams["window"].number_value == 14
    assert hparams["loss"].string_value == model.settings_["loss"]
    assert hparams["calendar"].string_value == "None"


def test_mlflow_run_holds_params_metric_histories_and_tags(fitted_runs: dict[str, Any]) -> None:
    model, seen = fitted_runs["model"], fitted_runs["seen"]
    client = MlflowClient(tracking_uri=(fitted_runs["work"] / "mlruns").as_uri())
    run = client.get_run(fitted_runs["run_id"])
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "small"
    assert client.get_experiment(run.info.experiment_id).name == "tests"
    params = run.data.params
    assert params == {name: str(value) for name, value in model.settings_.items()} | {
        "seed": str(model.seed_)
    }
    for member, trained in enumerate(model.histories_):
        prefix = f"member_{member + 1}/"
        losses = history(client, run.info.run_id, prefix + "loss/train_batch")
        assert [step for step, _ in losses] == list(range(1, len(seen.losses[member]) + 1))
        np.testing.assert_allclose([v for _, v in losses], seen.losses[member], rtol=1e-12)
        rates = history(client, run.info.run_id, prefix + "lr")
        np.testing.assert_allclose([v for _, v in rates], seen.rates[member], rtol=1e-12)
        epochs = history(client, run.info.run_id, prefix + "loss/val")
        assert epochs == list(zip([1, 2, 3], trained.val_loss, strict=True))
        assert run.data.metrics[prefix + "best_epoch"] == trained.best_epoch
        assert run.data.tags[prefix + "stopped"] == "epochs"
    metrics = run.data.metrics
    assert metrics["validation/mase"] == pytest.approx(model.diagnostics_.mase)
    assert metrics["validation/series"] == 2
    assert run.data.tags["validation/summary"] == model.diagnostics_.summary()
    assert run.data.tags["recipe"] == "\n".join(model.recipe_)
    assert "season_length" in run.data.tags["recipe.chosen"].split(", ")
    assert run.data.tags["lstmcast.version"] == lc.__version__


def test_batch_every_logs_the_mean_of_those_batches(tmp_path: Path) -> None:
    seen = BatchLosses()
    settings = SMALL | {"ensemble_size": 1, "val_size": None, "lr_schedule": None}
    with lc.MLflowLogger(tmp_path, batch_every=3) as flow:
        model = lc.LSTMForecaster(**settings).fit(series(), callbacks=[seen, flow])
    client = MlflowClient(tracking_uri=tmp_path.as_uri())
    losses = history(client, flow.run_id, "loss/train_batch")  # one network: no prefix
    steps = len(seen.losses[0])
    assert [step for step, _ in losses] == list(range(3, steps + 1, 3))
    expected = [np.mean(seen.losses[0][k - 3 : k]) for k in range(3, steps + 1, 3)]
    np.testing.assert_allclose([v for _, v in losses], expected, rtol=1e-12)
    assert {v for _, v in history(client, flow.run_id, "lr")} == {model.lr}
    metrics = client.get_run(flow.run_id).data.metrics
    assert "validation/mase" not in metrics  # no validation tail, no diagnostics
    assert "loss/val" not in metrics
    with pytest.raises(lc.ConfigError, match="batch_every must be >= 1"):
        lc.TensorBoardLogger(tmp_path / "tb", batch_every=0)


def test_only_rank_0_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(distributed, "rank", lambda: 1)
    board = lc.TensorBoardLogger(tmp_path / "tb")
    flow = lc.MLflowLogger(tmp_path / "mlruns")
    settings = SMALL | {"ensemble_size": 1, "epochs": 1}
    with board, flow:
        lc.LSTMForecaster(**settings).fit(series(), callbacks=[board, flow])
        board.log_backtest(pd.DataFrame({"MAE": [1.0]}, index=["LSTM"]))
    assert not board.writing
    assert flow.run_id is None
    assert list(tmp_path.iterdir()) == []


def test_the_default_store_is_the_file_store_mlruns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(tracking.ALLOW_FILE_STORE)
    assert lc.MLflowLogger().tracking_uri == (tmp_path / "mlruns").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://localhost:5000")
    assert lc.MLflowLogger().tracking_uri == "http://localhost:5000"
    assert lc.MLflowLogger("runs").tracking_uri == (tmp_path / "runs").as_uri()
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    flow = lc.MLflowLogger()
    flow.log_metrics({"x": 1.0})
    flow.close()
    assert (tmp_path / "mlruns").is_dir()
    client = MlflowClient(tracking_uri=flow.tracking_uri)
    assert client.get_run(flow.run_id).data.metrics == {"x": 1.0}
    # A user who said no to the file store is told so, not overridden.
    monkeypatch.setenv(tracking.ALLOW_FILE_STORE, "false")
    with pytest.raises(lc.ConfigError, match=r"cannot log to MLflow at file:.*MLFLOW_ALLOW_FILE"):
        lc.MLflowLogger("elsewhere").log_metrics({"x": 1.0})  # MLflow keeps stores it opened


def test_run_status_says_how_it_ended(tmp_path: Path) -> None:
    client = MlflowClient(tracking_uri=tmp_path.as_uri())
    settings = SMALL | {"ensemble_size": 1, "epochs": 1}
    failed = lc.MLflowLogger(tmp_path)
    failed.log_metrics({"x": 1.0})
    with pytest.raises(RuntimeError), failed:
        raise RuntimeError("a bug after the fit")
    assert client.get_run(failed.run_id).info.status == "FAILED"

    class CtrlC(lc.Callback):
        def on_batch_end(self, epoch: int, batch: int, loss: float) -> None:
            raise KeyboardInterrupt

    with lc.MLflowLogger(tmp_path) as stopped:
        model = lc.LSTMForecaster(**settings).fit(series(), callbacks=[stopped, CtrlC()])
    assert model.histories_[-1].interrupted
    run = client.get_run(stopped.run_id)
    assert run.info.status == "KILLED"
    assert run.data.tags["stopped"] == "interrupted"

    # Without a with block, the run reads as finished once fit ends.
    done = lc.MLflowLogger(tmp_path)
    model = lc.LSTMForecaster(**settings).fit(series(), callbacks=[done])
    assert client.get_run(done.run_id).info.status == "FINISHED"
    with pytest.raises(lc.ConfigError, match="records one fit; make a new one"):
        model.fit(series(), callbacks=[done])


def test_a_run_the_store_refuses_is_a_config_error(tmp_path: Path) -> None:
    flow = lc.MLflowLogger(tmp_path)
    flow.log_metrics({"x": 1.0})
    MlflowClient(tracking_uri=tmp_path.as_uri()).delete_run(flow.run_id)
    with pytest.raises(lc.ConfigError, match=r"cannot log to MLflow at file:.*active"):
        flow.log_metrics({"x": 2.0})


def hide(monkeypatch: pytest.MonkeyPatch, package: str) -> None:
    """Make ``import <package>`` fail as it does where the extra is not installed."""
    real_import = builtins.__import__

    def missing(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == package or name.startswith(package + "."):
            raise ModuleNotFoundError(f"No module named {package!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", missing)


@pytest.mark.parametrize(
    ("package", "flags"),
    [("tensorboard", ["--tensorboard", "tb"]), ("mlflow", ["--mlflow"])],
)
def test_without_the_extra_the_error_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, package: str, flags: list[str]
) -> None:
    hide(monkeypatch, package)
    logger = lc.MLflowLogger if package == "mlflow" else lc.TensorBoardLogger
    with pytest.raises(lc.ConfigError, match=r"pip install 'lstmcast\[track\]'"):
        logger(tmp_path)
    data = write_csv(tmp_path / "d.csv")
    monkeypatch.chdir(tmp_path)
    result = run("train", data, "-o", tmp_path / "m", *TINY_FLAGS, *flags)
    assert_one_error_line(result, "pip install 'lstmcast[track]'")
    assert not (tmp_path / "m").exists()
    # A command not asked to track runs without the extra.
    assert run("train", data, "-o", tmp_path / "m", *TINY_FLAGS, "-q").exit_code == 0


runner = CliRunner()


def run(*args: object) -> Result:
    return runner.invoke(cli.app, [str(a) for a in args])


def test_train_on_the_command_line_logs_to_both(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv")
    store = tmp_path / "store"
    result = run(
        "train", data, "-o", tmp_path / "m", *TINY_FLAGS, "--val-size", "14", "-q",
        "--tensorboard", tmp_path / "tb", "--mlflow-uri", store, "--mlflow-experiment", "cli",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    model = lc.load(tmp_path / "m")
    board = events(tmp_path / "tb")
    assert [step for step, _ in scalars(board, "loss/train")] == [1, 2]
    assert "| hidden_size | 8 | given |" in text(board, "settings")
    client = MlflowClient(tracking_uri=store.as_uri())
    (experiment,) = [e for e in client.search_experiments() if e.name == "cli"]
    (logged,) = client.search_runs([experiment.experiment_id])
    assert logged.info.run_name == "train d.csv"
    assert logged.info.status == "FINISHED"
    assert logged.data.params["hidden_size"] == "8"
    assert logged.data.params["seed"] == str(model.seed_)
    assert logged.data.tags["validation/summary"] == model.diagnostics_.summary()


def test_backtest_logs_its_metrics_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = write_csv(tmp_path / "d.csv")
    monkeypatch.chdir(tmp_path)
    for refit in ([], ["--refit"]):
        result = run(
            "backtest", data, "--h", "7", "--n-windows", "2", *TINY_FLAGS, "--mlflow", "-q",
            "-o", "b.csv", *refit,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    client = MlflowClient(tracking_uri=(tmp_path / "mlruns").as_uri())
    runs = client.search_runs([client.get_experiment_by_name("lstmcast").experiment_id])
    assert len(runs) == 2
    scored = pd.read_csv(tmp_path / "b.csv")
    for logged in runs:
        assert logged.info.run_name == "backtest d.csv"
        assert logged.data.params["window"] == "14"
        metrics = logged.data.metrics
        for model in ("LSTM", "Naive", "SeasonalNaive"):
            assert {f"backtest/{model}/{m}" for m in ("MAE", "RMSE", "sMAPE", "MASE")} <= set(
                metrics
            )
        assert logged.data.tags["backtest/summary"].startswith("backtest MASE")
    # The last run's (refit) LSTM MAE is the mean over series of the file's absolute errors.
    errors = (scored["y"] - scored["LSTM"]).abs().groupby(scored["unique_id"]).mean().mean()
    latest = max(runs, key=lambda r: r.info.start_time)
    assert latest.data.metrics["backtest/LSTM/MAE"] == pytest.approx(errors, rel=1e-6)
    assert "loss/train" not in latest.data.metrics  # the refit copies are not tracked
    assert "loss/train" in min(runs, key=lambda r: r.info.start_time).data.metrics
    assert latest.data.params["seed"] == "0"  # the planned model's: each copy's seed


def test_log_directories_are_checked_before_any_work(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv")
    model = tmp_path / "m"
    inside = run("train", data, "-o", model, *TINY_FLAGS, "--tensorboard", model / "tb")
    assert_one_error_line(inside, "--tensorboard", "lies inside the model directory")
    store = run("train", data, "-o", model, *TINY_FLAGS, "--mlflow-uri", model / "runs")
    assert_one_error_line(store, "--mlflow-uri", "lies inside the model directory")
    overwrite = run("train", data, "-o", model, *TINY_FLAGS, "--tensorboard", data)
    assert_one_error_line(overwrite, "--tensorboard", "is the data")
    assert not model.exists()


def test_an_update_is_not_tracked(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv")
    assert run("train", data, "-o", tmp_path / "m", *TINY_FLAGS, "-q").exit_code == 0
    for flags in (["--tensorboard", tmp_path / "tb"], ["--mlflow"]):
        result = run("train", data, "-o", tmp_path / "m2", "--from", tmp_path / "m", *flags)
        assert_one_error_line(result, "an update (--from) is not tracked")
    assert not (tmp_path / "m2").exists()
    assert not (tmp_path / "tb").exists()


def test_tune_logs_the_final_training_and_each_trial(tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    data = write_csv(tmp_path / "d.csv", n_points=100)
    store = tmp_path / "runs"
    result = run(
        "tune", data, "--horizon", "7", "-o", tmp_path / "tuned", "--n-trials", "2",
        "--epochs", "1", "--hidden-size", "8", "--ensemble-size", "1", "--mlflow-uri", store,
        "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    client = MlflowClient(tracking_uri=store.as_uri())
    (logged,) = client.search_runs([client.get_experiment_by_name("lstmcast").experiment_id])
    trials = pd.read_csv(tmp_path / "tuned" / "trials.csv").dropna(subset=["MASE"])
    mase = history(client, logged.info.run_id, "tune/mase")
    assert [step for step, _ in mase] == trials["trial"].tolist()
    np.testing.assert_allclose([v for _, v in mase], trials["MASE"], rtol=1e-9)
    assert logged.data.metrics["tune/best_mase"] == pytest.approx(trials["MASE"].min())
    assert "loss/train" in logged.data.metrics  # the final training's
    assert logged.info.status == "FINISHED"


def test_metrics_left_out_when_undefined() -> None:
    table = pd.DataFrame({"MAE": [1.0, math.nan], "MASE": [math.inf, 0.5]}, index=["A", "B"])
    found = tracking.defined(tracking.backtest_metrics(table))
    assert found == {"backtest/A/MAE": 1.0, "backtest/B/MASE": 0.5}

"""Training and forecasting under torchrun: 2 CPU processes (gloo), two launches in all.

The first launch (tests/distributed_worker.py) does every multi-process step and ends with one
process killed; the tests below read what it left. The second resumes the killed training.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.distributed as dist
import typer
from safetensors.torch import load_file

import lstmcast as lc
from lstmcast.checkpoint import read_training_state
from lstmcast.distributed import assign_files
from tests.distributed_worker import BATCH, COVARIATES, EQUIVALENCE, KILLED_AT, TRAIN_OPTIONS

pytestmark = pytest.mark.slow

WORKER = Path(__file__).with_name("distributed_worker.py")
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
SERIES_PER_FILE = 3
# Seconds a launch may take before it counts as hung (it takes 10 to 20 on 2 busy cores).
LAUNCH_TIMEOUT = 240


def series_frame(ids: list[str], length: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "unique_id": name,
                    "ds": pd.date_range("2024-01-01", periods=length, freq="h"),
                    "y": np.sin(2 * np.pi * t / (6 + k)) * (1 + k) + rng.normal(0, 0.1, length),
                }
            )
            for k, name in enumerate(ids)
        ],
        ignore_index=True,
    )


@dataclass
class Launch:
    work: Path
    process: subprocess.CompletedProcess[str]

    def rank_log(self, rank: int) -> str:
        """What process ``rank`` wrote to its stderr (torchrun keeps one file per process)."""
        (log,) = (self.work / "logs").glob(f"*/attempt_0/{rank}/stderr.log")
        return log.read_text()


@pytest.fixture(scope="module")
def launch(tmp_path_factory: pytest.TempPathFactory) -> Launch:
    work = tmp_path_factory.mktemp("distributed")
    # 4 series x (40 - window 8) = 128 windows: 8 full batches of 16, or of 8 on each rank.
    equivalence = series_frame([f"e{k}" for k in range(4)], 40, seed=1)
    equivalence.to_csv(work / "equivalence.csv", index=False)
    rng = np.random.default_rng(2)
    with_covariates = equivalence.assign(
        sensor=rng.normal(size=len(equivalence)), promo=(rng.random(len(equivalence)) < 0.3) * 1.0
    )
    with_covariates.to_csv(work / "covariates.csv", index=False)
    last = with_covariates.groupby("unique_id").tail(1)
    future = last.assign(ds=pd.to_datetime(last["ds"]) + pd.Timedelta(hours=1), promo=1.0)
    future[["unique_id", "ds", "promo"]].to_csv(work / "covariates-future.csv", index=False)
    data = work / "data"
    data.mkdir()
    frames = []
    for f in range(4):
        frame = series_frame([f"f{f}-s{k}" for k in range(SERIES_PER_FILE)], 48 + 8 * f, seed=f)
        if f % 2:
            frame.to_parquet(data / f"shard-{f}.parquet", index=False)
        else:
            frame.to_csv(data / f"shard-{f}.csv", index=False)
        frames.append(frame)
    pd.concat(frames).to_csv(work / "one.csv", index=False)
    frames[0].head(48).to_csv(work / "single.csv", index=False)  # f0-s0 alone
    logs = ["--log-dir", str(work / "logs"), "--redirects", "3"]
    return Launch(work, torchrun(*logs, str(WORKER), str(work)))


def torchrun(*args: str) -> subprocess.CompletedProcess[str]:
    """Run torchrun with 2 processes; a launch that hangs is killed whole and fails the test."""
    with subprocess.Popen(
        [*TORCHRUN, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the workers die with it
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=LAUNCH_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            pytest.fail(f"torchrun {' '.join(args)} hung for {LAUNCH_TIMEOUT} s")
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_ranks_end_with_the_same_weights_as_one_process_with_the_whole_batch(
    launch: Launch, tmp_path: Path
) -> None:
    ranks = [load_file(launch.work / f"weights-rank{r}.safetensors") for r in range(2)]
    assert ranks[0].keys() == ranks[1].keys()
    assert all(torch.equal(ranks[0][k], ranks[1][k]) for k in ranks[0])

    # One process, drawing the same shuffle (DistributedSampler over a world of 1): with the
    # whole batch of 16 it takes the same steps; with a batch of 8 it does not.
    dist.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1
    )
    try:
        df = lc.read_csv(launch.work / "equivalence.csv")
        alone = lc.LSTMForecaster(batch_size=BATCH, **EQUIVALENCE).fit(df)
        half = lc.LSTMForecaster(batch_size=BATCH // 2, **EQUIVALENCE).fit(df)
    finally:
        dist.destroy_process_group()
    assert alone.history_.train_windows == 128  # 8 steps per epoch, 16 in all
    for name, weights in alone.network_.state_dict().items():
        assert torch.allclose(ranks[0][name], weights, rtol=0, atol=1e-5), name
    difference = max(
        (ranks[0][name] - weights).abs().max().item()
        for name, weights in half.network_.state_dict().items()
    )
    assert difference > 1e-3


def test_two_processes_with_covariates_train_as_one(launch: Launch, tmp_path: Path) -> None:
    ranks = [load_file(launch.work / f"weights-covariates-rank{r}.safetensors") for r in range(2)]
    assert all(torch.equal(ranks[0][k], ranks[1][k]) for k in ranks[0])
    dist.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1
    )
    try:
        df = lc.read_csv(launch.work / "covariates.csv", covariate_cols=["sensor", "promo"])
        alone = lc.LSTMForecaster(batch_size=BATCH, **EQUIVALENCE, **COVARIATES).fit(df)
    finally:
        dist.destroy_process_group()
    assert "decoder.0.weight" in ranks[0]  # the future-known covariate's decoder trained too
    for name, weights in alone.network_.state_dict().items():
        assert torch.allclose(ranks[0][name], weights, rtol=0, atol=1e-5), name


def test_sharded_forecast_with_future_known_values(launch: Launch) -> None:
    parts = sorted((launch.work / "forecast-cov").glob("part-*.parquet"))
    assert len(parts) == 2
    sharded = pd.concat([pd.read_parquet(p) for p in parts]).sort_values("unique_id")
    model = lc.load(launch.work / "model-covariates")
    alone = model.predict(futr_df=pd.read_csv(launch.work / "covariates-future.csv"))
    assert sharded["unique_id"].tolist() == alone["unique_id"].tolist()
    np.testing.assert_allclose(sharded["LSTM"], alone["LSTM"], rtol=1e-6)


def test_a_time_budget_stops_every_rank_after_the_same_epoch(launch: Launch) -> None:
    """Only rank 1's clock runs out of the budget; rank 0 stops with it, after epoch 1."""
    ranks = [json.loads((launch.work / f"budget-rank{r}.json").read_text()) for r in range(2)]
    assert [len(rank["train_loss"]) for rank in ranks] == [1, 1]
    assert [rank["stopped"] for rank in ranks] == ["budget", "budget"]


def test_the_sanity_alarms_cover_every_ranks_series(launch: Launch) -> None:
    """Each rank scores its own series' validation tails; the saved line covers them all."""
    for name in ("model", "model-one"):  # each rank its own files; every rank all the data
        diagnostics = lc.load(launch.work / name).diagnostics_
        assert diagnostics is not None, name
        assert sorted(diagnostics.series["unique_id"]) == sorted(
            f"f{f}-s{k}" for f in range(4) for k in range(SERIES_PER_FILE)
        )
        assert f"of {4 * SERIES_PER_FILE} series" in diagnostics.summary()


def test_each_rank_reads_only_its_files(launch: Launch) -> None:
    files = sorted((launch.work / "data").iterdir())
    expected = assign_files(files, 2)
    seen = []
    for rank in range(2):
        log = launch.rank_log(rank)
        assert f"lstmcast rank {rank}/2: started" in log
        read = set(re.findall(rf"lstmcast rank {rank}/2: read (\S+):", log))
        single_files = {"one.csv", "single.csv"}  # every rank reads all of one --data file
        assert single_files <= read
        read -= single_files
        assert read == {file.name for file in expected[rank]}
        seen.append(read)
    assert not seen[0] & seen[1]
    assert seen[0] | seen[1] == {file.name for file in files}


def test_only_rank_0_tracks_the_run(launch: Launch, monkeypatch: pytest.MonkeyPatch) -> None:
    """One TensorBoard event file and one MLflow run, holding every rank's series."""
    pytest.importorskip("tensorboard")
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    assert len(list((launch.work / "tb").glob("events.out.tfevents.*"))) == 1
    client = MlflowClient((launch.work / "mlruns").as_uri())
    (run,) = client.search_runs([client.get_experiment_by_name("lstmcast").experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.metrics["validation/series"] == 4 * SERIES_PER_FILE
    assert len(client.get_metric_history(run.info.run_id, "loss/train")) == 3  # 3 epochs


def test_the_model_loads_in_one_process(launch: Launch) -> None:
    model = lc.load(launch.work / "model")
    assert model.n_series_ == 4 * SERIES_PER_FILE
    assert (launch.work / "model" / "series-00001.safetensors").is_file()
    forecast = model.predict(3)
    assert len(forecast) == 3 * 4 * SERIES_PER_FILE
    assert np.isfinite(forecast["LSTM"]).all()
    # The card's facts are of every rank's series, not rank 0's (file f: series of 48 + 8f h).
    config = json.loads((launch.work / "model" / "config.json").read_text())
    facts = config["data"]
    assert facts["series"] == 4 * SERIES_PER_FILE
    assert facts["points"] == SERIES_PER_FILE * sum(48 + 8 * f for f in range(4))
    assert (facts["first"], facts["last"]) == ("2024-01-01 00:00:00", "2024-01-03 23:00:00")
    assert config["chain"][0]["data"] == facts


def test_sharded_forecast_writes_every_series_once(launch: Launch) -> None:
    out = launch.work / "forecast"
    manifest = json.loads((out / "_manifest.json").read_text())
    parts = [pd.read_parquet(out / part["file"]) for part in manifest["parts"]]
    assert sorted(p.name for p in out.glob("part-*.parquet")) == [
        "part-00000.parquet",
        "part-00001.parquet",
    ]
    assert [len(part) for part in parts] == [p["rows"] for p in manifest["parts"]]
    combined = pd.concat(parts, ignore_index=True)
    all_ids = {f"f{f}-s{k}" for f in range(4) for k in range(SERIES_PER_FILE)}
    assert combined["unique_id"].value_counts().to_dict() == dict.fromkeys(all_ids, 1)
    assert manifest["series"] == len(all_ids)
    # The parts together are the forecast one process makes with the same model.
    alone = lc.load(launch.work / "model").predict(level=[80])
    by_id = combined.sort_values("unique_id").reset_index(drop=True)
    expected = alone.sort_values("unique_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(by_id, expected, check_dtype=False)


def test_sharded_forecast_of_one_data_file_writes_every_series_once(launch: Launch) -> None:
    """Every rank reads the one file; each forecasts its share of its series, not all of them."""
    out = launch.work / "forecast-one"
    manifest = json.loads((out / "_manifest.json").read_text())
    parts = [pd.read_parquet(out / part["file"]) for part in manifest["parts"]]
    assert all(len(part) > 0 for part in parts)
    combined = pd.concat(parts, ignore_index=True)
    all_ids = {f"f{f}-s{k}" for f in range(4) for k in range(SERIES_PER_FILE)}
    assert combined["unique_id"].value_counts().to_dict() == dict.fromkeys(all_ids, 1)
    assert manifest["series"] == len(all_ids)
    alone = lc.load(launch.work / "model").predict(df=lc.read_csv(launch.work / "one.csv"))
    pd.testing.assert_frame_equal(combined, alone, check_dtype=False)
    # Fewer series than processes: rank 1 is dealt none and writes an empty part.
    single = launch.work / "forecast-single"
    parts = [pd.read_parquet(single / f"part-0000{rank}.parquet") for rank in range(2)]
    assert [part["unique_id"].tolist() for part in parts] == [["f0-s0"], []]
    assert parts[1]["ds"].dtype == parts[0]["ds"].dtype


def test_the_calibration_caveat_counts_every_ranks_series(launch: Launch) -> None:
    """Training and the sharded forecast warn once each on rank 0, as one process would: over
    all 12 series the model was calibrated on, not a rank's share of them."""
    whole = lc.load(launch.work / "model-thin")
    caveat = whole.calibration_caveat_
    assert caveat is not None
    assert f"span 12 horizons of {4 * SERIES_PER_FILE} series" in caveat
    share = lc.load(launch.work / "model-thin", part=(1, 2))
    assert share.n_series_ < whole.n_series_
    assert share.caveat_at([95]) == caveat
    assert launch.rank_log(0).count(f"warning: {caveat}") == 2  # train, then forecast
    assert "intervals are calibrated" not in launch.rank_log(1)


def test_training_on_one_data_file_shares_its_windows(launch: Launch) -> None:
    """One file under torchrun: every rank holds every series, one model, no series files."""
    model = lc.load(launch.work / "model-one")
    assert model.n_series_ == 4 * SERIES_PER_FILE
    assert not list((launch.work / "model-one").glob("series-*"))
    one = lc.read_csv(launch.work / "one.csv")
    alone = lc.LSTMForecaster(**(EQUIVALENCE | {"epochs": 1, "val_size": 8})).fit(one)
    assert model.history_.train_windows == alone.history_.train_windows


def test_a_killed_rank_stops_the_run_and_resume_continues(launch: Launch) -> None:
    assert launch.process.returncode != 0
    # torchrun names the process that died and how, rather than hanging.
    assert "Root Cause" in launch.process.stderr
    assert "Signal 9 (SIGKILL)" in launch.process.stderr
    assert re.search(r"rank\s*: 1 ", launch.process.stderr)

    checkpoint = launch.work / "checkpoint"
    saved = read_training_state(checkpoint)
    assert saved is not None
    assert saved.state.epoch == KILLED_AT[0] - 1  # the last whole epoch
    assert lc.load(checkpoint).predict(2)["LSTM"].notna().all()

    data = str(launch.work / "data")
    resumed = torchrun(
        "-m", "lstmcast", "train", data, "-o", str(checkpoint), *TRAIN_OPTIONS, "--resume"
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "epochs run    3 of 3" in resumed.stdout
    assert not (checkpoint / "training_state.json").exists()
    history = lc.load(checkpoint).history_
    assert history.train_loss[0] == saved.state.history.train_loss[0]
    assert len(history.train_loss) == 3


def test_load_keeps_a_share_of_the_series(launch: Launch, two_series: pd.DataFrame) -> None:
    everything = lc.load(launch.work / "model")
    # Series files 0 and 1 of a model trained by two processes, dealt to three readers.
    shares = [lc.load(launch.work / "model", part=(k, 3)) for k in range(3)]
    assert [share.n_series_ for share in shares] == [SERIES_PER_FILE * 2] * 2 + [0]
    assert shares[2].tail_.ds.dtype == everything.tail_.ds.dtype
    ids = np.concatenate([share.tail_.ids for share in shares])
    assert sorted(ids) == sorted(everything.tail_.ids)
    # A model saved by one process is dealt in even blocks of its series.
    alone = lc.LSTMForecaster(window=8, hidden_size=4, epochs=1, random_state=0).fit(two_series)
    path = launch.work / "alone"
    alone.save(path)
    halves = [lc.load(path, part=(k, 2)) for k in range(2)]
    assert [list(half.tail_.ids) for half in halves] == [["a"], ["b"]]
    pd.testing.assert_frame_equal(
        pd.concat([half.predict(2) for half in halves], ignore_index=True), alone.predict(2)
    )


def test_series_files_are_checksummed(launch: Launch, tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(launch.work / "model", model)
    checksums = json.loads((model / "config.json").read_text())["checksums"]
    assert sorted(checksums) == sorted(p.name for p in model.iterdir() if p.name != "config.json")
    for suffix in (".json", ".safetensors"):  # two shards swapped: each is another's
        first, second = model / f"series-00000{suffix}", model / f"series-00001{suffix}"
        first_bytes = first.read_bytes()
        first.write_bytes(second.read_bytes())
        second.write_bytes(first_bytes)
    with pytest.raises(lc.ModelFileError, match=r"series-00000.json does not belong to"):
        lc.load(model)


@pytest.mark.parametrize(
    ("raised", "leaves_together", "seen"),
    [
        (None, True, None),
        (typer.Exit(130), True, typer.Exit),
        (ValueError("a bug on this rank"), False, ValueError),
        (
            RuntimeError("[pair.cc:537] Read error: Connection reset by peer. gloo"),
            False,
            lc.TrainingError,
        ),
    ],
    ids=["done", "planned exit", "other error", "lost peer"],
)
def test_a_joined_process_group_is_left_together_unless_something_failed(
    monkeypatch: pytest.MonkeyPatch,
    raised: BaseException | None,
    leaves_together: bool,
    seen: type[BaseException] | None,
) -> None:
    """Every rank waits for the others before leaving the group it joined (also on a planned
    exit with a code); after an error it leaves at once, a lost peer being one error line."""
    from lstmcast import distributed, torchrun

    calls: list[str] = []
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("MASTER_ADDR", "localhost")
    monkeypatch.setattr(distributed, "active", lambda: False)
    monkeypatch.setattr(distributed, "start", lambda device: calls.append("start"))
    monkeypatch.setattr(distributed, "barrier", lambda: calls.append("barrier"))
    monkeypatch.setattr(distributed, "stop", lambda: calls.append("stop"))

    def block() -> None:
        with torchrun.process_group("cpu", planned_exits=(typer.Exit,)):
            if raised is not None:
                raise raised

    if seen is None:
        block()
    else:
        with pytest.raises(seen):
            block()
    assert calls == ["start", *(["barrier"] if leaves_together else []), "stop"]

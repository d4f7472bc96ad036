"""Tests of the ``lstmcast`` command line: help, a full round trip, backtest, Ctrl-C and errors.

Everything runs in-process through ``CliRunner`` (stdout and stderr captured apart) on tiny data
and tiny models; only the checks that need a real process (the script's stderr and exit code,
import cost) start one.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.main import get_command
from typer.testing import CliRunner, Result

import lstmcast as lc
from lstmcast import cli, sharded
from lstmcast.cli import console

SRC = Path(lc.__file__).resolve().parents[1]
N_POINTS = 80
# Small enough that training takes a fraction of a second.
TINY = [
    "--recipe",
    "tutorial",
    "--window",
    "8",
    "--hidden-size",
    "8",
    "--epochs",
    "2",
    "--batch-size",
    "16",
    "--seed",
    "0",
]

runner = CliRunner()


def run(*args: object) -> Result:
    return runner.invoke(cli.app, [str(a) for a in args])


def write_csv(path: Path, n_series: int = 2, n_points: int = N_POINTS) -> Path:
    """Long CSV with daily dates: smooth seasonal series plus a little noise."""
    rng = np.random.default_rng(0)
    t = np.arange(n_points)
    frames = [
        pd.DataFrame(
            {
                "unique_id": f"s{k}",
                "ds": pd.date_range("2024-01-01", periods=n_points, freq="D"),
                "y": 10 * (k + 1) + np.sin(2 * np.pi * t / 7) + rng.normal(0, 0.1, n_points),
            }
        )
        for k in range(n_series)
    ]
    pd.concat(frames).to_csv(path, index=False)
    return path


def assert_one_error_line(result: Result, *fragments: str) -> None:
    """Exit code 1 and exactly one line ``error: ...`` on stderr, no traceback anywhere."""
    assert result.exit_code == 1, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert len(lines[0]) > len("error: ")
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def data_csv(workdir: Path) -> Path:
    return write_csv(workdir / "data.csv")


@pytest.fixture(scope="module")
def model_dir(workdir: Path, data_csv: Path) -> Path:
    """A tiny model trained once for the whole module (with validation, so val loss shows)."""
    model = workdir / "model"
    result = run("train", data_csv, "-o", model, *TINY, "--val-size", "0.2")
    assert result.exit_code == 0, result.output
    return model


# --------------------------------------------------------------------------------------------
# Help and version

COMMANDS = [
    "demo", "train", "forecast", "backtest", "tune", "plot", "inspect", "experiment", "export",
]  # fmt: skip


def test_root_help_lists_every_command() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.stdout


def test_version() -> None:
    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"lstmcast {lc.__version__}"


@pytest.mark.parametrize("name", COMMANDS)
def test_command_help_mentions_every_option(name: str) -> None:
    command = get_command(cli.app).commands[name]  # type: ignore[attr-defined]
    result = runner.invoke(cli.app, [name, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert command.help
    assert command.help.split("\n")[0] in result.stdout
    for param in command.params:
        # Complete help: every option and argument says what it is for.
        assert getattr(param, "help", None), f"{name}: {param.name} has no help"
        for flag in param.opts if param.param_type_name == "option" else ():
            assert flag in result.stdout, f"{name} --help does not mention {flag}"


# --------------------------------------------------------------------------------------------
# Working commands


def test_train_forecast_plot_inspect_round_trip(
    workdir: Path, data_csv: Path, model_dir: Path
) -> None:
    assert lc.load(model_dir).n_series_ == 2

    forecast_csv = workdir / "forecast.csv"
    result = run("forecast", model_dir, "--h", 5, "-o", forecast_csv)
    assert result.exit_code == 0, result.output
    assert "wrote 10 rows" in result.stdout
    frame = pd.read_csv(forecast_csv)
    assert list(frame.columns) == ["unique_id", "ds", "LSTM"]
    assert frame["ds"].iloc[0] == "2024-03-21"  # the day after the data ends
    assert np.isfinite(frame["LSTM"]).all()

    # With --data the forecast starts from that history instead.
    shorter = workdir / "shorter.csv"
    write_csv(shorter, n_points=60)
    result = run("forecast", model_dir, "--data", shorter, "--h", 2, "-o", forecast_csv)
    assert result.exit_code == 0, result.output
    assert pd.read_csv(forecast_csv)["ds"].iloc[0] == "2024-03-01"

    plot_png = workdir / "plot.png"
    # The forecast continues the shorter history: plotted beside it, not inside the longer one.
    result = run("plot", shorter, forecast_csv, "-o", plot_png, "--id", "s1", "--max-history", 20)
    assert result.exit_code == 0, result.output
    assert plot_png.read_bytes().startswith(b"\x89PNG")

    gates_png = workdir / "gates.png"
    result = run("inspect", model_dir, "--data", data_csv, "--series", "s1", "-o", gates_png)
    assert result.exit_code == 0, result.output
    assert gates_png.read_bytes().startswith(b"\x89PNG")
    assert "series 's1'" in result.stdout
    assert "long memory" in result.stdout
    # Without --data: the end of the training data saved with the model.
    result = run("inspect", model_dir, "-o", gates_png)
    assert result.exit_code == 0, result.output
    assert "series 's0'" in result.stdout


def test_train_prints_summary_and_progress(workdir: Path, data_csv: Path) -> None:
    result = run("train", data_csv, "-o", workdir / "m", *TINY, "--val-size", "16")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "series        2" in out
    # 80 - 16 validation points, window 8, horizon 1: 56 training windows per series.
    assert "windows       112 training, 32 validation" in out
    assert "epochs run    2 of 2" in out
    assert "val loss" in out
    assert f"saved to      {workdir / 'm'}" in out
    # The progress bar goes to stderr, so stdout stays parseable.
    assert "epoch 2/2" in result.stderr
    assert "epoch 2/2" not in result.stdout

    quiet = run("train", data_csv, "-o", workdir / "m", *TINY, "--quiet")
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stderr == ""


def test_train_interrupted_keeps_checkpoint_and_resumes(
    workdir: Path, data_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bar = console.progress_class()
    original = bar.on_epoch_end

    def ctrl_c_in_epoch_three(self: lc.Callback, epoch: int, history: lc.History) -> None:
        original(self, epoch, history)  # type: ignore[arg-type]
        if epoch == 3:
            raise KeyboardInterrupt

    settings = ["--window", 8, "--hidden-size", 8, "--epochs", 5, "--seed", 0, "--val-size", 10]
    with monkeypatch.context() as patch:
        patch.setattr(bar, "on_epoch_end", ctrl_c_in_epoch_three)
        model = workdir / "interrupted"
        result = run("train", data_csv, "-o", model, *settings)
    assert result.exit_code == console.EXIT_INTERRUPTED, result.output
    note = result.stderr.strip().splitlines()[-1]
    assert note == (
        f"interrupted; {model} holds the checkpoint after epoch 2 (best epoch 2); "
        "continue with --resume"
    )
    # Ctrl-C came before epoch 3's checkpoint: the one on disk is from epoch 2, and usable.
    assert len(lc.load(model).history_.train_loss) == 2

    other = run("train", data_csv, "-o", model, *settings, "--hidden-size", 4, "--resume", "-q")
    assert_one_error_line(
        other,
        "the interrupted run used --hidden-size 8, this model has --hidden-size 4",
        "only --epochs, --patience and --time-budget may change",
    )
    resumed = run("train", data_csv, "-o", model, *settings, "--resume", "--quiet")
    assert resumed.exit_code == 0, resumed.output
    straight = run("train", data_csv, "-o", workdir / "straight", *settings, "--quiet")
    assert straight.exit_code == 0, straight.output
    pd.testing.assert_frame_equal(
        lc.load(model).predict(4), lc.load(workdir / "straight").predict(4)
    )


def test_sigterm_stops_training_and_keeps_the_checkpoint(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "long.csv", n_series=4, n_points=400)
    model = tmp_path / "m"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    command = [sys.executable, "-m", "lstmcast", "train", str(data), "-o", str(model),
               "--window", "16", "--hidden-size", "32", "--epochs", "1000", "--quiet"]  # fmt: skip
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (model / "training_state.json").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == console.EXIT_INTERRUPTED, stderr
    assert "Traceback" not in stderr
    assert stderr.strip().endswith("continue with --resume")
    assert lc.load(model).predict(2)["LSTM"].notna().all()


@pytest.mark.parametrize("with_ids", [True, False], ids=["long", "one series"])
def test_a_model_remembers_its_column_names(tmp_path: Path, with_ids: bool) -> None:
    """Trained with --time-col/--target-col/--id-col, forecast and inspect need them no more."""
    frame = pd.read_csv(write_csv(tmp_path / "plain.csv", n_series=2 if with_ids else 1))
    frame = frame.rename(columns={"unique_id": "store", "ds": "day", "y": "sales"})
    names = ["--time-col", "day", "--target-col", "sales"]
    if with_ids:
        names += ["--id-col", "store"]
    else:
        frame = frame.drop(columns="store")
    frame.to_csv(tmp_path / "sales.csv", index=False)
    model = tmp_path / "m"
    assert run("train", tmp_path / "sales.csv", "-o", model, *TINY, *names).exit_code == 0
    series = ["s0", "s1"] if with_ids else ["sales"]

    out = tmp_path / "f.csv"
    result = run("forecast", model, "--data", tmp_path / "sales.csv", "--h", 2, "-o", out)
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out)["unique_id"].unique().tolist() == series
    result = run("inspect", model, "--data", tmp_path / "sales.csv", "-o", tmp_path / "g.png")
    assert result.exit_code == 0, result.output
    assert f"series {series[0]!r}" in result.stdout
    # Names given on the command line still win.
    frame.rename(columns={"day": "when"}).to_csv(tmp_path / "other.csv", index=False)
    other = ["--data", tmp_path / "other.csv", "--time-col", "when"]
    assert run("forecast", model, *other, "--h", 2, "-o", tmp_path / "o.csv").exit_code == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "o.csv"), pd.read_csv(out))
    result = run("forecast", model, "--data", tmp_path / "other.csv", "-o", out)
    assert_one_error_line(result, "time column 'day' not found")


def test_backtest_table_has_every_model(workdir: Path, data_csv: Path) -> None:
    out_csv = workdir / "backtest.csv"
    result = run(
        "backtest", data_csv, "--h", 4, "--n-windows", 2, "--season-length", 7, *TINY,
        "-o", out_csv, "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = {line.split()[1] for line in result.stdout.splitlines() if line.startswith("│")}
    assert {"LSTM", "Naive", "SeasonalNaive"} <= rows
    for metric in ("MAE", "RMSE", "sMAPE", "MASE"):
        assert metric in result.stdout
    frame = pd.read_csv(out_csv)
    assert list(frame.columns) == [
        "unique_id",
        "ds",
        "cutoff",
        "y",
        "LSTM",
        "Naive",
        "SeasonalNaive",
    ]
    assert len(frame) == 2 * 2 * 4  # series x windows x h
    # The seasonal naive forecast of a 7-periodic series is close to exact.
    assert (frame["y"] - frame["SeasonalNaive"]).abs().mean() < 0.5

    # The merged CSV plots like a forecast (ds and cutoff parsed as dates).
    result = run("plot", data_csv, out_csv, "-o", workdir / "backtest.png")
    assert result.exit_code == 0, result.output


def test_outputs_are_written_in_the_format_their_suffix_names(
    tmp_path: Path, data_csv: Path, model_dir: Path
) -> None:
    import os
    import stat

    previous = os.umask(0o027)
    try:
        for name in ("f.csv", "f.parquet", "F.PARQUET"):
            assert run("forecast", model_dir, "--h", 3, "-o", tmp_path / name).exit_code == 0
        result = run("backtest", data_csv, "--h", 2, *TINY, "--quiet", "-o", tmp_path / "b.parquet")
        assert result.exit_code == 0, result.output
        for name in ("p.svg", "p.pdf", "p.png"):  # from a Parquet forecast
            result = run("plot", data_csv, tmp_path / "f.parquet", "-o", tmp_path / name)
            assert result.exit_code == 0, result.output
    finally:
        os.umask(previous)
    csv = pd.read_csv(tmp_path / "f.csv", parse_dates=["ds"])
    for name in ("f.parquet", "F.PARQUET"):
        parquet = pd.read_parquet(tmp_path / name)
        pd.testing.assert_frame_equal(parquet, csv, check_dtype=False, check_exact=False)
    assert list(pd.read_parquet(tmp_path / "b.parquet").columns)[:4] == [
        "unique_id", "ds", "cutoff", "y"
    ]  # fmt: skip
    assert (tmp_path / "p.svg").read_text().startswith("<?xml")
    assert (tmp_path / "p.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "p.png").read_bytes().startswith(b"\x89PNG")
    for path in tmp_path.iterdir():  # the umask's permissions, as a plain open() gives
        assert stat.S_IMODE(path.stat().st_mode) == 0o640, path


def test_a_sharded_forecast_deletes_only_its_own_stale_parts(
    tmp_path: Path, model_dir: Path
) -> None:
    """Rank 0 removes the parts of an earlier run with more processes, as its manifest lists
    them, and nothing else: another tool's part-*.parquet and other files in --output stay."""
    out = tmp_path / "forecasts"
    out.mkdir()
    foreign = {
        "part-00000-1b2c-c000.snappy.parquet": "a Spark part",
        "part-00003.parquet": "not listed in any manifest",
        "notes.txt": "mine",
    }
    for name, text in foreign.items():
        (out / name).write_text(text)
    # One process: rank 0 of 1 writes part-00000.parquet and the manifest.
    sharded.forecast_part(model_dir, out, 2)
    manifest = json.loads((out / sharded.MANIFEST).read_text())
    # As an earlier run of 2 processes would have left it (and a doctored entry).
    manifest["parts"] += [{"file": "part-00001.parquet"}, {"file": "../outside.parquet"}]
    (out / sharded.MANIFEST).write_text(json.dumps(manifest))
    (out / "part-00001.parquet").write_text("stale")
    (tmp_path / "outside.parquet").write_text("keep")
    sharded.forecast_part(model_dir, out, 2)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*foreign, "part-00000.parquet", sharded.MANIFEST]
    )
    for name, text in foreign.items():
        assert (out / name).read_text() == text
    assert (tmp_path / "outside.parquet").read_text() == "keep"


def test_demo(tmp_path: Path) -> None:
    pytest.importorskip("lstmcast.demo", reason="lstmcast/demo.py is not written yet")
    result = run("demo", "-o", tmp_path / "demo.png", "--quiet")
    assert result.exit_code == 0, result.output
    for name in ("LSTM", "Naive", "SeasonalNaive", "MASE"):
        assert name in result.stdout
    assert f"wrote {tmp_path / 'demo.png'}" in result.stdout
    assert (tmp_path / "demo.png").read_bytes().startswith(b"\x89PNG")


# --------------------------------------------------------------------------------------------
# Bad input: one line on stderr, exit code 1


def _good_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "good.csv")


def _csv_with(edit: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], Path]:
    def make(tmp_path: Path) -> Path:
        path = write_csv(tmp_path / "good.csv")
        bad = tmp_path / "bad.csv"
        edit(pd.read_csv(path)).to_csv(bad, index=False)
        return bad

    return make


def _set(row: int, column: str, value: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
        return frame

    return edit


BAD_DATA = {
    "non-numeric": (_csv_with(_set(5, "y", "abc")), [], ["non-numeric", "'abc'", "line 7"]),
    "nan": (_csv_with(_set(5, "y", np.nan)), [], ["NaN", "line 7"]),
    "inf": (_csv_with(_set(5, "y", np.inf)), [], ["inf", "line 7"]),
    "unsorted": (_csv_with(lambda f: f.iloc[[1, 0, *range(2, len(f))]]), [], ["unsorted"]),
    "duplicated": (_csv_with(_set(1, "ds", "2024-01-01")), [], ["duplicated"]),
    "too short": (_csv_with(lambda f: f.iloc[: N_POINTS + 5]), [], ["'s1' has 5 points"]),
    "unknown time column": (_good_csv, ["--time-col", "nope"], ["time column 'nope'"]),
    "unknown target column": (_good_csv, ["--target-col", "nope"], ["target column 'nope'"]),
    "unknown id column": (_good_csv, ["--id-col", "nope"], ["'nope'"]),
    "window 0": (_good_csv, ["--window", "0"], ["window must be >= 1, got 0"]),
    "negative lr": (_good_csv, ["--lr", "-1"], ["lr must be > 0"]),
    "bad val size": (_good_csv, ["--val-size", "lots"], ["--val-size", "'lots'"]),
    "patience without val": (_good_csv, ["--patience", "2"], ["--patience needs", "--val-size"]),
}


@pytest.mark.parametrize("case", BAD_DATA)
def test_train_rejects_bad_input(tmp_path: Path, case: str) -> None:
    make, options, fragments = BAD_DATA[case]
    data = make(tmp_path)
    # Everything is checked before training starts, so the real settings do not matter.
    result = run("train", data, "-o", tmp_path / "model", *TINY[:2], *options, "--quiet")
    assert_one_error_line(result, *fragments)
    assert not (tmp_path / "model").exists()


def test_missing_data_file(tmp_path: Path) -> None:
    result = run("train", tmp_path / "missing.csv", "-o", tmp_path / "model")
    assert_one_error_line(result, "missing.csv", "not found")


def test_missing_forecast_file(tmp_path: Path, data_csv: Path) -> None:
    result = run("plot", data_csv, tmp_path / "missing.csv", "-o", tmp_path / "p.png")
    assert_one_error_line(result, "missing.csv")


def _empty_dir(path: Path) -> None:
    path.mkdir()


def _random_files(path: Path) -> None:
    path.mkdir()
    (path / "notes.txt").write_text("not a model\n")
    (path / "weights.bin").write_bytes(os.urandom(64))


def _garbage_config(path: Path) -> None:
    path.mkdir()
    (path / "config.json").write_text("{not json")


BAD_MODELS = {
    "missing": (lambda path: None, ["not found"]),
    "empty dir": (_empty_dir, ["not an lstmcast model"]),
    "random files": (_random_files, ["not an lstmcast model"]),
    "garbage config": (_garbage_config, ["not valid JSON"]),
}


@pytest.mark.parametrize("command", ["forecast", "inspect"])
@pytest.mark.parametrize("case", BAD_MODELS)
def test_rejects_what_is_not_a_model(tmp_path: Path, case: str, command: str) -> None:
    make, fragments = BAD_MODELS[case]
    model = tmp_path / "model"
    make(model)
    result = run(
        command, model, "-o", tmp_path / ("out.csv" if command == "forecast" else "out.png")
    )
    assert_one_error_line(result, *fragments)


def test_rejects_model_from_newer_version(tmp_path: Path, model_dir: Path) -> None:
    newer = tmp_path / "newer"
    shutil.copytree(model_dir, newer)
    config = json.loads((newer / "config.json").read_text())
    config["format_version"] = 999
    (newer / "config.json").write_text(json.dumps(config))
    result = run("forecast", newer, "-o", tmp_path / "f.csv")
    assert_one_error_line(result, "format 999", "upgrade lstmcast")


def test_inspect_unknown_series(tmp_path: Path, model_dir: Path, data_csv: Path) -> None:
    result = run(
        "inspect", model_dir, "--data", data_csv, "--series", "zz", "-o", tmp_path / "g.png"
    )
    assert_one_error_line(result, "'zz' not found", "'s0', 's1'")


def test_forecast_unknown_series(tmp_path: Path, model_dir: Path) -> None:
    other = tmp_path / "other.csv"
    write_csv(other, n_series=3)  # s2 was not in training
    result = run("forecast", model_dir, "--data", other, "-o", tmp_path / "f.csv")
    assert_one_error_line(result, "'s2'")
    assert not (tmp_path / "f.csv").exists()


# --------------------------------------------------------------------------------------------
# A real process: the installed script's behaviour, and what start-up imports


def _python(*args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_script_error_is_one_line_on_stderr(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    done = _python("-m", "lstmcast", "forecast", str(empty), "-o", str(tmp_path / "f.csv"))
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == f"error: {str(empty)!r} is not an lstmcast model: it has no config.json\n"


def test_help_does_not_import_heavy_modules() -> None:
    code = (
        "import sys; from lstmcast.cli import main; sys.argv = ['lstmcast', '--help']\n"
        "try: main()\nexcept SystemExit: pass\n"
        "heavy = [m for m in ('torch', 'pandas', 'matplotlib') if m in sys.modules]\n"
        "print('heavy=' + ','.join(heavy))"
    )
    done = _python("-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "heavy="


# --------------------------------------------------------------------------------------------
# inspect on a segment-wise model, experiment adding


def test_inspect_segmentwise_model_reports_reach_in_steps_and_points(
    workdir: Path, data_csv: Path
) -> None:
    model = workdir / "segmented"
    args = [
        "--window",
        "12",
        "--segment",
        "4",
        "--hidden-size",
        "8",
        "--epochs",
        "1",
        "--seed",
        "0",
    ]
    assert run("train", data_csv, "-o", model, *args, "-q").exit_code == 0
    gates_png = workdir / "seg_gates.png"
    result = run("inspect", model, "--data", data_csv, "--series", "s1", "-o", gates_png)
    assert result.exit_code == 0, result.output
    assert gates_png.read_bytes().startswith(b"\x89PNG")
    out = result.stdout
    assert "Memory reach (window: 3 LSTM steps of 4 points)" in out
    assert "(points)" in out
    # The table agrees with the Python API on the same window.
    trace = lc.load(model).explain(lc.read_csv(data_csv))
    reach = lc.memory_reach(trace, sample=1, segment=4)
    assert (reach["reach_points"] == 4 * reach["reach_steps"]).all()
    top = reach.sort_values(["reach_steps", "time_constant_steps"], ascending=False).iloc[0]
    row = next(line for line in out.splitlines() if line.lstrip("│ ").startswith(str(top.unit)))
    assert f"{top.mean_forget:.3f}" in row
    assert f"{top.reach_points}" in row


def test_experiment_adding_prints_scores_and_writes_the_curve(tmp_path: Path) -> None:
    png = tmp_path / "adding.png"
    gates = tmp_path / "gates.png"
    result = run(
        "experiment", "adding", "-T", 6, "--steps", 30, "--hidden-size", 4, "--seed", 1,
        "-o", png, "--gates", gates,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert gates.read_bytes().startswith(b"\x89PNG")
    out = result.stdout
    assert "Adding problem, T = 6: lstm" in out
    assert "always 1.0" in out
    assert "30 steps in" in out
    assert "stopped by --steps" in out
    assert "chrono on, seed 1" in out
    assert png.read_bytes().startswith(b"\x89PNG")
    again = run(
        "experiment", "adding", "-T", 6, "--steps", 30, "--hidden-size", 4, "--seed", 1, "-o", png
    )
    # Same seed, same scores (the table rows; the seconds differ).
    table = [line for line in out.splitlines() if "│" in line]
    assert table == [line for line in again.stdout.splitlines() if "│" in line]


def test_experiment_adding_help_lists_every_option() -> None:
    result = runner.invoke(cli.app, ["experiment", "adding", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for flag in (
        "--length",
        "--cell",
        "--steps",
        "--batch-size",
        "--hidden-size",
        "--lr",
        "--seed",
        "--budget",
        "--chrono",
        "--until-accuracy",
        "--threads",
        "--output",
    ):
        assert flag in result.stdout, flag


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--cell", "lstmx"], ["unknown cell 'lstmx'", "lstm, gru, rnn"]),
        (["-T", "1"], ["length must be an integer >= 2"]),
        (["--cell", "rnn", "--chrono"], ["gated cell"]),
        (["--steps", "0"], ["steps must be a positive integer"]),
        (["--cell", "gru", "--gates", "g.png"], ["--gates", "gru"]),
    ],
)
def test_experiment_adding_bad_arguments(
    tmp_path: Path, args: list[str], fragments: list[str]
) -> None:
    result = run("experiment", "adding", *args, "-o", tmp_path / "a.png")
    assert_one_error_line(result, *fragments)
    assert not (tmp_path / "a.png").exists()


def test_threads_option_sets_torchs_threads(model_dir: Path, tmp_path: Path) -> None:
    import torch

    before = torch.get_num_threads()
    try:
        result = run("--threads", 3, "forecast", model_dir, "-o", tmp_path / "f.csv")
        assert result.exit_code == 0, result.output
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
    result = run("--threads", 0, "forecast", model_dir, "-o", tmp_path / "f.csv")
    assert result.exit_code != 0
    assert "--threads" in result.output


def test_readme_backtest_with_a_season_longer_than_the_window(tmp_path: Path) -> None:
    """`backtest sales.csv --h 24 --n-windows 5 --season-length 24` with the default window 20:
    the season is the baselines' and MASE's, the LSTM needs it only to calibrate intervals."""
    data = write_csv(tmp_path / "sales.csv", n_points=200)
    result = run(
        "backtest", data, "--h", 24, "--n-windows", 5, "--season-length", 24,
        "--hidden-size", 4, "--epochs", 1, "--seed", 0, "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Backtest: 5 origins, h=24, step 24" in result.stdout
    assert "SeasonalNaive" in result.stdout


def test_grad_clip_scaler_and_device_reach_the_model(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv")
    options = ["--grad-clip", 0.5, "--scaler", "none", "--device", "cpu", *TINY, "--quiet"]
    result = run("train", data, "-o", tmp_path / "m", *options)
    assert result.exit_code == 0, result.output
    model = lc.load(tmp_path / "m")
    assert (model.grad_clip, model.scaler, model.device) == (0.5, "none", "cpu")
    assert run("backtest", data, "--h", 2, *options).exit_code == 0
    result = run("backtest", data, "--h", 2, *TINY, "--scaler", "robust")
    assert_one_error_line(result, "scaler must be one of standard, none; got 'robust'")


def test_divergence_advice_names_the_flags(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv")
    result = run("train", data, "-o", tmp_path / "m", *TINY, "--lr", 1e30, "--quiet")
    assert_one_error_line(result, "try a lower learning rate than --lr 1e+30 or --grad-clip 1.0")


@pytest.mark.parametrize("name", ["train", "backtest"])
def test_every_model_setting_has_a_flag(name: str) -> None:
    """Advice that names a setting (grad_clip, say) can always be followed on the command line."""
    command = get_command(cli.app).commands[name]  # type: ignore[attr-defined]
    options = {param.name for param in command.params}
    renamed = {"num_layers": "layers", "random_state": "seed"}
    settings = lc.LSTMForecaster().get_params()
    assert {renamed.get(setting, setting) for setting in settings} <= options


# LSTMForecaster settings deliberately without a command-line flag, each with the reason.
NOT_ON_THE_COMMAND_LINE: dict[str, str] = {}
# Per setting: a flag's text on the command line and the setting it must become.
FLAG_SAMPLES: dict[str, tuple[str | None, object]] = {
    "window": ("7", 7),
    "horizon": ("3", 3),
    "hidden_size": ("9", 9),
    "num_layers": ("2", 2),
    "dropout": ("0.25", 0.25),
    "epochs": ("4", 4),
    "time_budget": ("1h30m", 5400.0),
    "batch_size": ("8", 8),
    "lr": ("0.02", 0.02),
    "val_size": ("0.2", 0.2),
    "val_at": ("start", "start"),
    "patience": ("3", 3),
    "scaler": ("none", "none"),
    "target_transform": ("log", "log"),
    "window_norm": ("revin", "revin"),
    "baseline": ("seasonal", "seasonal"),
    "segment": ("2", 2),
    "decoder": ("segments", "segments"),
    "calendar": ("hour", ("hour",)),
    "futr_cols": ("promo", ("promo",)),
    "hist_cols": ("sensor", ("sensor",)),
    "static_cols": ("region", ("region",)),
    "covariate_missing": ("ffill", "ffill"),
    "missing": ("mask", "mask"),
    "fill_gaps": (None, True),  # a flag: no value
    "loss": ("mae", "mae"),
    "lr_schedule": ("cosine", "cosine"),
    "grad_clip": ("0.5", 0.5),
    "forget_bias": ("1.0", 1.0),
    "ensemble_size": ("2", 2),
    "ensemble_combine": ("median", "median"),  # not the default
    "quantile_levels": ("80", (80.0,)),
    "quantile_training": ("separate", "separate"),
    "median_weight": ("4", 4.0),
    "interval_scale": ("seasonal", "seasonal"),
    "season_length": ("7", 7),
    "recipe": ("tutorial", "tutorial"),
    "random_state": ("5", 5),
    "device": ("cpu", "cpu"),
    "precision": ("fp32", "fp32"),
}
REQUIRED_ARGUMENTS = {"train": ["d.csv", "-o", "m"], "backtest": ["d.csv", "--h", "2"]}


@pytest.mark.parametrize("name", ["train", "backtest"])
def test_every_estimator_parameter_has_a_flag_that_sets_it(name: str) -> None:
    """Each LSTMForecaster constructor parameter is a flag of every command that trains, parsed
    into that setting; without flags, every setting is the estimator's default."""
    import inspect

    from lstmcast.cli import model_options as options

    parameters = set(inspect.signature(lc.LSTMForecaster).parameters)
    assert set(FLAG_SAMPLES) == parameters - set(NOT_ON_THE_COMMAND_LINE)
    command = get_command(cli.app).commands[name]  # type: ignore[attr-defined]
    flags = {option.setting: option.flag for option in options.MODEL_OPTIONS}
    assert set(flags) == set(FLAG_SAMPLES)

    def settings(*args: str) -> dict[str, object]:
        parsed = command.make_context(name, [*REQUIRED_ARGUMENTS[name], *args]).params
        return lc.LSTMForecaster(**options.collect(parsed).keywords()).get_params()

    assert settings() == lc.LSTMForecaster().get_params()
    for setting, (text, value) in FLAG_SAMPLES.items():
        given = [flags[setting]] if text is None else [flags[setting], text]
        assert settings(*given)[setting] == value, (setting, text)
    # "none" turns off what the recipe would otherwise choose.
    for setting in (
        "val_size", "patience", "window_norm", "lr_schedule", "forget_bias", "target_transform",
    ):  # fmt: skip
        assert settings(flags[setting], "none")[setting] is None, setting


def test_model_option_defaults_and_flags_are_the_estimators() -> None:
    """The defaults read from LSTMForecaster's source are its signature's, and messages (which
    name a setting by its flag on the command line) name the flag that the table declares."""
    import inspect

    from lstmcast.cli import model_options as options
    from lstmcast.errors import command_line, setting

    signature = inspect.signature(lc.LSTMForecaster).parameters
    assert options.estimator_defaults() == {name: p.default for name, p in signature.items()}
    with command_line():
        for option in options.MODEL_OPTIONS:
            assert setting(option.setting) == option.flag


def test_data_with_a_utc_offset_keeps_it_through_the_cli(tmp_path: Path) -> None:
    times = pd.date_range("2024-01-09 07:00", periods=60, freq="h")
    rows = "".join(f"{t:%Y-%m-%d %H:%M}+01:00,{np.sin(i / 4):.3f}\n" for i, t in enumerate(times))
    data = tmp_path / "zoned.csv"
    data.write_text("ds,y\n" + rows)
    trained = run("train", data, "-o", tmp_path / "m", *TINY)
    assert trained.exit_code == 0, trained.output
    # How DATA was read goes to stderr, after the progress bar; stdout stays the summary.
    assert "read zoned.csv: one series, time 'ds', target 'y', times in +01:00" in trained.stderr
    assert "read zoned.csv" not in trained.stdout
    out = tmp_path / "f.csv"
    assert run("forecast", tmp_path / "m", "-o", out, "--h", 1).exit_code == 0
    assert pd.read_csv(out)["ds"].tolist() == ["2024-01-11 19:00:00+01:00"]
    result = run("forecast", tmp_path / "m", "--data", data, "-o", out, "--h", 1)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[-1].startswith("read zoned.csv: one series")
    plotted = run("plot", data, out, "-o", tmp_path / "p.png")
    assert plotted.exit_code == 0, plotted.output
    assert (tmp_path / "p.png").stat().st_size > 0

"""The speed benchmark's in-process workloads (W2, W3) run at tiny sizes and give sane figures.

W1 spawns whole Python processes (seconds each), so its programs are checked lightly here: they
import without their tools (the child times that import itself), their data is the tutorial's
series, and the plain-PyTorch one runs once as a child, one epoch.
"""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from benchmarks import speed
from benchmarks.programs import child
from lstmcast import precision as lc_precision
from lstmcast.demo import sine_series

# Smaller still than --smoke: W2's shapes (96 steps, 2 x LSTM(128)) stay, with one batch of 32.
TINY = dataclasses.replace(
    speed.SMOKE,
    w2_windows=32,
    w2_held_out=16,
    matmul_n=128,
    w3_series=40,
    w3_length=150,
    w3_loop=5,
)


def _positive_finite(value: object) -> bool:
    return isinstance(value, float | int) and math.isfinite(value) and value > 0


def test_w2_smoke_figures_are_positive_and_finite() -> None:
    result = speed.w2(TINY, repeats=1, bf16="off", keras=False)
    native = lc_precision.native_bf16(torch.device("cpu"))
    auto = lc_precision.resolve("auto", torch.device("cpu"), training=True)
    other = "fp32" if auto == "bf16" else "bf16"  # the precision "auto" does not pick
    assert set(result["tools"]) == {
        "lstmcast fit()",
        "lstmcast training loop",
        "lstmcast fit(), torch's LSTM kernel",
        *([f"lstmcast fit(precision='{other}')"] if native else []),
        "plain PyTorch float32",
    }
    for figures in result["tools"].values():
        assert all(_positive_finite(value) for value in figures.values()), figures
    for key in ("matmul_fp32_gflops", "flop_per_window", "ratio_lstmcast_torch"):
        assert _positive_finite(result[key]), key
    table = speed.format_w2(result)
    assert "| lstmcast fit()" in table
    assert "113.5 MFLOP" in table


def test_w3_smoke_figures_are_positive_and_finite() -> None:
    result = speed.w3(TINY, repeats=1)
    for key in (
        "train_s",
        "batch_s",
        "batch_series_per_s",
        "loop_s",
        "loop_series_per_s",
        "loop_extrapolated_s",
        "ratio_batch_loop",
    ):
        assert _positive_finite(result[key]), key
    # One call for all series and one call per series forecast the same values.
    assert result["max_abs_difference"] < 1e-4
    assert "series/s" in speed.format_w3(result)


def test_flop_count_is_the_anchors_convention() -> None:
    assert speed.flop_per_window() == pytest.approx(113.5e6, rel=1e-3)


def test_w1_programs_import_nothing_they_time() -> None:
    # A child's import time starts in its code: importing the program must not load the tools.
    programs = [*speed.W1_PROGRAMS.values(), speed.W2_KERAS_PROGRAM]
    check = (
        f"import sys, {', '.join(programs)}; "
        "print(sorted({'numpy', 'torch', 'lstmcast', 'tensorflow', 'keras'} & set(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", check],
        cwd=speed.REPOSITORY,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "[]"


def test_w1_programs_use_the_tutorial_series() -> None:
    params = speed.w1_params(seed=0, epochs=1, threads=None)
    np.testing.assert_array_equal(child.tutorial_series(params), sine_series(speed.W1_SEED))
    assert child.train_test_sizes(params) == (784, 196)


def test_w1_plain_torch_child_reports_its_figures() -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = speed.run_child(
        speed.W1_PROGRAMS["plain PyTorch"], speed.w1_params(seed=0, epochs=1, threads=1), env
    )
    assert set(run.report) == {
        "import_s",
        "fit_s",
        "predict_s",
        "rmse",
        "in_process_s",
        "peak_mib",
    }
    assert all(_positive_finite(value) for value in run.report.values()), run.report
    assert run.wall_s > run.report["in_process_s"]


def test_w2_trains_an_extra_lstmcast_row_with_a_forget_bias() -> None:
    result = speed.w2(TINY, repeats=1, bf16="off", keras=False, forget_bias=1.0)
    row = result["tools"]["lstmcast fit(forget_bias=1)"]
    assert _positive_finite(row["windows_per_s"])
    assert _positive_finite(row["held_out_mse"])


def test_w1_seed_study_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks import w1_seeds

    assert w1_seeds.main(["--seeds", "1"]) == 0
    table = capsys.readouterr().out
    for tool in ("lstmcast", "plain PyTorch", "+ Keras's head", "+ Keras's LSTM too"):
        assert f"| {tool}" in table
    # Seed 0 of the plain-PyTorch loop is speed.py's W1 reference: the same RMSE every time.
    assert w1_seeds.torch_rmse(0) == w1_seeds.torch_rmse(0)

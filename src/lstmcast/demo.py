"""The tutorial's experiment, done honestly: ``lstmcast demo``.

1000 points of ``sin(0.02 t)`` plus Gaussian noise (sd 0.2), windows of 20 values -> the next
value, LSTM(50) + linear head, Adam (lr 1e-3), MSE, 10 epochs, batch 32. Unlike the tutorial, the
model is trained on the first 80% only (the last 10% of that part is its validation tail) and
scored on the last 20%, which it never saw, beside the naive and seasonal-naive baselines scored on
the very same one-step-ahead targets.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .data import split, to_long
from .forecast import Naive, SeasonalNaive
from .lstm_forecaster import LSTMForecaster
from .scoring import evaluate
from .train import Callback, History

if TYPE_CHECKING:
    import pandas as pd

N_POINTS, NOISE_SD, FREQUENCY = 1000, 0.2, 0.02
TEST_FRACTION = 0.2
SEASON = round(2 * np.pi / FREQUENCY)  # 314 steps: the sine's period, rounded
FORECAST_STEPS = 100


@dataclass(frozen=True)
class DemoResult:
    description: str
    metrics: pd.DataFrame  # one row per model: MAE, RMSE, sMAPE, MASE on the held-out 20%
    one_step: pd.DataFrame  # held-out one-step predictions of every model beside y
    forecast: pd.DataFrame  # unique_id, ds, LSTM: FORECAST_STEPS past the end of the series
    history: History
    plot_path: Path
    seconds: float


def sine_series(seed: int = 0, n: int = N_POINTS) -> np.ndarray:
    """The tutorial's series, (n,): sin(0.02 t) + N(0, 0.2^2) noise, seeded."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return np.sin(FREQUENCY * t) + rng.normal(0.0, NOISE_SD, n)


def run_demo(
    output: str | Path = "demo.png", seed: int = 0, callbacks: Sequence[Callback] = ()
) -> DemoResult:
    """Train, score on the held-out future beside the baselines, forecast, and plot."""
    from .files import image_format

    image_format(output, what="output")  # an unknown suffix is refused before training
    started = time.perf_counter()
    series = to_long(sine_series(seed))
    n_test = round(N_POINTS * TEST_FRACTION)
    train, _ = split(series, n_test)
    model = LSTMForecaster(
        recipe="tutorial",  # every setting not listed here: the tutorial's, not the data's
        window=20,
        horizon=1,
        hidden_size=50,
        epochs=10,
        batch_size=32,
        lr=1e-3,
        val_size=0.1,
        random_state=seed,
    ).fit(train, callbacks=callbacks)

    # One step ahead from every origin in the test part, each fed the actual past (as the
    # tutorial does), with the weights and scaling learned on the training part only.
    one_step = None
    for forecaster in (model, Naive().fit(train), SeasonalNaive(SEASON).fit(train)):
        frame = forecaster.backtest(series, h=1, n_windows=n_test, step_size=1)
        one_step = frame if one_step is None else one_step.merge(frame)
    metrics = evaluate(one_step, train=train, season_length=1)

    # Past the end of the data: the same model, fed the whole series, recursive beyond h = 1.
    forecast = model.predict(h=FORECAST_STEPS, df=series)
    plot_path = Path(output)
    _plot(series, one_step, forecast, model.history_, plot_path)
    description = (
        f"{N_POINTS} points of sin({FREQUENCY} t) + N(0, {NOISE_SD}^2) noise (seed {seed}). "
        f"LSTM(hidden 50) + linear head on windows of 20 -> next value, Adam lr 1e-3, MSE, batch "
        f"32, {len(model.history_.train_loss)} epochs on the first {N_POINTS - n_test} points "
        f"(last 10% of them for validation; best epoch {model.history_.best_epoch} kept). "
        f"Scored one step ahead on the last {n_test} points, never seen in training, beside "
        f"Naive (last value) and SeasonalNaive (season {SEASON}); MASE scaled by the naive "
        "in-sample error."
    )
    return DemoResult(
        description=description,
        metrics=metrics,
        one_step=one_step,
        forecast=forecast,
        history=model.history_,
        plot_path=plot_path,
        seconds=time.perf_counter() - started,
    )


def _plot(
    series: pd.DataFrame,
    one_step: pd.DataFrame,
    forecast: pd.DataFrame,
    history: History,
    path: Path,
) -> None:
    from matplotlib.figure import Figure

    from .files import atomic_path, image_format
    from .training_plot import plot_history

    figure = Figure(figsize=(11, 7), layout="constrained")
    top, bottom = figure.subplots(2, 1, height_ratios=[2, 1])
    top.plot(series["ds"], series["y"], color="0.6", lw=0.8, label="series")
    top.plot(
        one_step["ds"],
        one_step["LSTM"],
        color="C0",
        lw=1.2,
        label="LSTM, one step ahead (held out)",
    )
    top.plot(
        forecast["ds"],
        forecast["LSTM"],
        color="C3",
        lw=1.5,
        label=f"LSTM, {len(forecast)} steps past the end",
    )
    top.axvline(one_step["cutoff"].min(), color="k", ls=":", lw=1)
    top.set_xlabel("t")
    top.set_ylabel("y")
    top.set_title("sin(0.02 t) + noise: train | held-out test | forecast")
    top.legend(loc="lower left", fontsize=8)
    plot_history(history, ax=bottom)
    kind = image_format(path, what="path")
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format=kind, dpi=110)

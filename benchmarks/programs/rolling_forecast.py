"""Forecast from many origins with a saved model, in one process, through lstmcast's public API.

``lstmcast forecast --data`` forecasts from one origin per call (the end of the history given);
scoring ETTh1's 2,785 hourly test windows that way would start 2,785 processes. This program is
what a user scoring them would write instead: load the model, read the history file as
``lstmcast forecast --data`` reads it (the model's column names and layout), and call
``backtest`` without refitting (the saved weights and scaling; each origin sees only the values
before it). Run by benchmarks.defaults as

    python -m benchmarks.programs.rolling_forecast MODEL HISTORY H N_WINDOWS STEP OUT.csv [LEVEL]

and writes ``unique_id, ds, cutoff, y, LSTM`` to OUT.csv (with LEVEL, also the interval's
bounds ``LSTM-lo-LEVEL`` and ``LSTM-hi-LEVEL``, as ``lstmcast forecast --level`` writes them).
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    model_dir, history, h, n_windows, step, out, *level = argv
    import lstmcast as lc

    model = lc.load(model_dir)
    frame = lc.read_csv(history, **model.columns_, layout=getattr(model, "layout_", None))
    forecasts = model.backtest(
        frame,
        h=int(h),
        n_windows=int(n_windows),
        step_size=int(step),
        level=[float(level[0])] if level else None,
        # read_csv's frame has the library's column names, not the model's file names
        id_col="unique_id",
        time_col="ds",
        target_col="y",
    )
    forecasts.to_csv(out, index=False)


if __name__ == "__main__":
    main(sys.argv[1:])

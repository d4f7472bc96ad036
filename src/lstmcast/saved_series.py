"""What a saved model keeps per series: ids, scaling, last points, time steps.

Where it sits: under ``io``, which saves and loads models. :func:`series_state` turns a fitted
state's per-series part into JSON (ids, time type, steps) and safetensors tensors (scaler
statistics and spreads, the last window, covariates' statistics), in ``weights.safetensors`` or,
for a model trained on sharded data, one ``series-<rank>`` pair per process;
:class:`SavedSeries` reads them back, checking every array, and joins or selects shards.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .data import Panel, concatenated_ranges
from .fitted import FittedState
from .missing import checked_marks, joined_marks
from .modeldir import SERIES_SHARD, verify
from .timesteps import step_from_json, step_to_json

# The per-series tensors of a model whose series are kept in weights.safetensors.
SERIES_TENSORS = ("scaler.shift", "scaler.scale", "tail.y", "tail.ds", "tail.starts")
COVARIATE_TENSORS = ("tail.covariates", "covariates.shift", "covariates.scale")
# Which of each series' last points were missing (Panel.missing), for a model with ``missing``.
MISSING_TENSOR = "tail.missing"
# Each series' spread in training (SeriesScaler.spread); absent from models saved before it.
SPREAD_TENSOR = "scaler.spread"


def series_state(state: FittedState) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """What forecasting each series needs: ids and steps (JSON), scaling and last points."""
    tail = state.tail
    series = {
        "ids": [str(i) for i in tail.ids],
        "time_dtype": str(tail.ds.dtype),
        "time_zone": tail.tz,
        "steps": [step_to_json(step) for step in state.steps],
    }
    tensors = {
        "scaler.shift": torch.from_numpy(state.scaler.shift.astype(np.float64)),
        "scaler.scale": torch.from_numpy(state.scaler.scale.astype(np.float64)),
        "tail.y": torch.from_numpy(tail.y.astype(np.float64)),
        "tail.ds": torch.from_numpy(tail.ds.view(np.int64).copy()),
        "tail.starts": torch.from_numpy(tail.starts.astype(np.int64)),
    }
    if tail.missing is not None:  # which of the last points were missing (missing=...)
        tensors[MISSING_TENSOR] = torch.from_numpy(tail.missing.astype(np.int8))
    if state.scaler.spread is not None:
        tensors[SPREAD_TENSOR] = torch.from_numpy(state.scaler.spread.astype(np.float64))
    if tail.covariates is not None and state.covariate_scaler is not None:
        tensors |= {
            "tail.covariates": torch.from_numpy(tail.covariates.astype(np.float64)),
            "covariates.shift": torch.from_numpy(state.covariate_scaler.shift.astype(np.float64)),
            "covariates.scale": torch.from_numpy(state.covariate_scaler.scale.astype(np.float64)),
        }
    return series, tensors


def read_series_shard(
    directory: Path, shard: int, window: int, checksums: dict[str, str] | None
) -> SavedSeries:
    from safetensors.torch import load_file

    name = SERIES_SHARD.format(shard)
    verify(directory, f"{name}.json", checksums)
    verify(directory, f"{name}.safetensors", checksums)
    series = json.loads((directory / f"{name}.json").read_text())
    return SavedSeries.read(series, load_file(str(directory / f"{name}.safetensors")), window)


@dataclass(frozen=True)
class SavedSeries:
    """What a model keeps per series: ids, scaling (shift, scale), last points and time steps."""

    ids: np.ndarray
    shift: np.ndarray
    scale: np.ndarray
    tail: Panel
    steps: list[Any]
    covariate_shift: np.ndarray | None = None  # (n, C), with covariates
    covariate_scale: np.ndarray | None = None
    spread: np.ndarray | None = None  # (n,); None: saved before SeriesScaler.spread

    @classmethod
    def read(
        cls, series: dict[str, Any], tensors: dict[str, torch.Tensor], window: int
    ) -> SavedSeries:
        """Check and build the state saved by ``series_state``."""
        ids = np.array([str(i) for i in series["ids"]], dtype=object)
        time_dtype = np.dtype(series["time_dtype"])
        if time_dtype != np.int64 and time_dtype.kind != "M":
            raise ValueError(f"time_dtype {time_dtype} is neither int64 nor a datetime")
        arrays = {name: tensors[name].numpy() for name in
                  ("tail.y", "tail.ds", "tail.starts", "scaler.shift", "scaler.scale")}  # fmt: skip
        if any(array.ndim != 1 for array in arrays.values()):
            raise ValueError("a saved series array is not one-dimensional")
        dtypes = {"tail.y": np.float64, "tail.ds": np.int64, "tail.starts": np.int64,
                  "scaler.shift": np.float64, "scaler.scale": np.float64}  # fmt: skip
        for name, dtype in dtypes.items():
            if arrays[name].dtype != dtype:
                raise ValueError(f"{name} holds {arrays[name].dtype}, not {np.dtype(dtype)}")
        starts, y = arrays["tail.starts"], arrays["tail.y"]
        n = len(ids)
        shift, scale = arrays["scaler.shift"], arrays["scaler.scale"]
        if not (
            len(starts) == n + 1
            and starts[0] == 0
            and starts[-1] == len(y) == len(arrays["tail.ds"])
            and (np.diff(starts) >= window).all()
            and len(shift) == len(scale) == len(series["steps"]) == n
        ):
            raise ValueError("the saved series arrays do not agree with each other")
        if not (np.isfinite(scale).all() and (scale > 0).all() and np.isfinite(shift).all()):
            raise ValueError("the saved scaler statistics are not finite and positive")
        spread = tensors[SPREAD_TENSOR].numpy() if SPREAD_TENSOR in tensors else None
        if spread is not None and not (
            spread.dtype == np.float64
            and spread.shape == (n,)
            and np.isfinite(spread).all()
            and (spread >= 0).all()
        ):
            raise ValueError("the saved series spreads are not n finite numbers >= 0")
        steps = [step_from_json(step) for step in series["steps"]]
        if any(isinstance(step, int) != (time_dtype == np.int64) for step in steps):
            raise ValueError("the time steps do not match the time type")
        zone = series.get("time_zone")
        if zone is not None:
            import pandas as pd

            if not isinstance(zone, str) or time_dtype.kind != "M":
                raise ValueError(f"invalid time zone {zone!r}")
            try:
                pd.Timestamp(0, tz=zone)
            except (KeyError, ValueError):  # zoneinfo's "not found" is a KeyError
                raise ValueError(f"unknown time zone {zone!r}") from None
        missing = tensors.get(MISSING_TENSOR)
        tail = Panel(
            ids=ids, y=y, ds=arrays["tail.ds"].view(time_dtype), starts=starts, tz=zone,
            missing=None if missing is None else checked_marks(missing.numpy(), len(y)),
        )  # fmt: skip
        if "tail.covariates" not in tensors:
            return cls(ids, shift, scale, tail, steps, spread=spread)
        values, c_shift, c_scale = (tensors[name].numpy() for name in COVARIATE_TENSORS)
        if not (
            values.dtype == c_shift.dtype == c_scale.dtype == np.float64
            and values.ndim == c_shift.ndim == c_scale.ndim == 2
            and len(values) == len(y)
            and c_shift.shape == c_scale.shape == (n, values.shape[1])
            and np.isfinite(values).all()
            and np.isfinite(c_shift).all()
            and (c_scale > 0).all()
        ):
            raise ValueError("the saved covariate arrays do not agree with the series")
        return cls(
            ids, shift, scale, replace(tail, covariates=values), steps, c_shift, c_scale, spread
        )

    @classmethod
    def concatenate(cls, states: list[SavedSeries], time_dtype: np.dtype) -> SavedSeries:
        """The series of ``states`` one after the other (none: an empty state)."""
        if not states:
            empty = Panel(
                np.array([], dtype=object),
                np.zeros(0),
                np.zeros(0, dtype=time_dtype),
                np.zeros(1, np.int64),
            )
            return cls(empty.ids, np.zeros(0), np.ones(0), empty, [])
        if any(state.tail.ds.dtype != time_dtype for state in states):
            raise ValueError("the series files mix time types")
        if any(state.tail.tz != states[0].tail.tz for state in states):
            raise ValueError("the series files mix time zones")
        offsets = np.cumsum([0, *(len(state.tail.y) for state in states[:-1])])
        starts = [
            state.tail.starts[:-1] + offset for state, offset in zip(states, offsets, strict=True)
        ]
        covariates = states[0].covariate_shift is not None
        if any((state.covariate_shift is not None) != covariates for state in states):
            raise ValueError("the series files disagree on covariates")
        spread = states[0].spread is not None
        if any((state.spread is not None) != spread for state in states):
            raise ValueError("the series files disagree on series spreads")

        def joined(name: str) -> np.ndarray | None:
            parts = [getattr(state, name) for state in states]
            return np.concatenate(parts) if covariates else None

        tail = Panel(
            ids=np.concatenate([state.ids for state in states]),
            y=np.concatenate([state.tail.y for state in states]),
            ds=np.concatenate([state.tail.ds for state in states]),
            starts=np.concatenate([*starts, [offsets[-1] + len(states[-1].tail.y)]]),
            tz=states[0].tail.tz,
            covariates=np.concatenate([s.tail.covariates for s in states]) if covariates else None,
            missing=joined_marks([state.tail for state in states]),
        )
        return cls(
            tail.ids,
            np.concatenate([state.shift for state in states]),
            np.concatenate([state.scale for state in states]),
            tail,
            [step for state in states for step in state.steps],
            joined("covariate_shift"),
            joined("covariate_scale"),
            np.concatenate([state.spread for state in states]) if spread else None,
        )

    def select(self, series: np.ndarray) -> SavedSeries:
        """The series at positions ``series`` (ascending), (k,)."""
        tail = self.tail
        rows = concatenated_ranges(tail.starts[series], tail.starts[series + 1])
        starts = np.concatenate([[0], np.cumsum(tail.lengths[series])]).astype(np.int64)
        panel = Panel(
            ids=tail.ids[series], y=tail.y[rows], ds=tail.ds[rows], starts=starts, tz=tail.tz,
            covariates=None if tail.covariates is None else tail.covariates[rows],
            covariate_names=tail.covariate_names,
            missing=None if tail.missing is None else tail.missing[rows],
        )  # fmt: skip
        steps = [self.steps[i] for i in series]
        covariates = self.covariate_shift is not None
        return SavedSeries(
            panel.ids, self.shift[series], self.scale[series], panel, steps,
            self.covariate_shift[series] if covariates else None,
            self.covariate_scale[series] if covariates else None,
            None if self.spread is None else self.spread[series],
        )  # fmt: skip

"""Updating a fitted LSTM forecaster with new data: its training continued, not restarted.

Where it sits: after ``fit`` (model -> model). ``LSTMForecaster.update(df)`` reads the new data
as forecasting does, puts each known series' saved last ``window`` points in front of its new
points (so a few new points make whole windows), and trains every network further from its
weights and Adam state, on the model's scaling (new series get theirs from their training part,
as fit would). Early stopping and calibration use the newest points of each series; the weights
the update starts from compete on validation (an epoch must beat them by :data:`START_MARGIN`),
so an update never ends worse there than it began.
Each update is recorded in the model's training chain (``card.chain_step``).
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import distributed, recipe
from .card import chain_step, training_data
from .checkpoint import data_fingerprint
from .checks import Rule, spelled
from .cold_start import with_series_of
from .covariates import CovariateScaler, CovariateSpec, merge_static, spec_of
from .data import Panel, concatenated_ranges
from .diagnostics import validation_diagnostics
from .errors import ConfigError, DataError, points, setting
from .fitted import FittedState
from .fitting import (
    WarmStart,
    check_finite,
    fit_windows,
    train_config,
    train_members,
    validation_points,
)
from .intervals import check_calibrated_quantiles
from .missing import Fills, joined_marks, marks_of
from .settings import AUTO, TRAINING_SETTINGS, is_auto
from .timesteps import future_times, show_time
from .train import Callback
from .windows import SeriesScaler

# An update's epochs: 0 is a refresh (fit trains at least one, settings.RULES): the new points
# move each series' saved window forward, the intervals are calibrated again on their
# validation tail and the alarms recomputed, with the weights as they are.
REFRESH_EPOCHS = Rule(int, 0)
# An epoch of an update replaces the starting weights only if it beats them on the update's
# validation tail by this fraction of their loss: on M4 Hourly the epochs an update kept beat
# them by 0.4-1.7% on its 48 hours and lost on the next 48 (benchmarks/RESULTS.md, U-V4, U-V5).
START_MARGIN = 0.02


def check_changes(saved: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """The training settings ``given`` for an update (settings of the model's: ``saved``).

    Raises ConfigError for a setting an update cannot change (it describes what the networks
    are, or how the data is read), naming it and what the model has.
    """
    for name, value in given.items():
        if name in TRAINING_SETTINGS:
            continue
        ours = saved.get(name)
        if (list(value) if isinstance(value, tuple) else value) != (
            list(ours) if isinstance(ours, tuple) else ours
        ):
            raise ConfigError(
                f"the model was trained with {spelled(name, ours)}; an update continues its "
                f"networks, so {setting(name)} cannot become {value!r} (only "
                + ", ".join(setting(n) for n in TRAINING_SETTINGS)
                + " may change): train a new model for that"
            )
    return {name: value for name, value in given.items() if name in TRAINING_SETTINGS}


def joined_with_tail(state: FittedState, panel: Panel) -> tuple[Panel, np.ndarray]:
    """Each series of ``panel``, one the model knows preceded by its saved points older than
    the first given (the given values win where both have a time), and the new points of each
    (n,): those after the model's last time for the series (all of a new series).

    A known series whose given points start later than one step after the model's last point
    is refused, named: the missing points would silently become a jump.
    """
    tail = state.tail
    if tail.covariate_names != panel.covariate_names:
        raise DataError(
            f"the new data holds the covariates {list(panel.covariate_names)}, the model "
            f"{list(tail.covariate_names)}"
        )
    at = {str(series_id): i for i, series_id in enumerate(tail.ids)}
    known = np.array([str(series_id) in at for series_id in panel.ids], dtype=bool)
    position = np.array([at.get(str(series_id), -1) for series_id in panel.ids])
    first = panel.ds[panel.starts[:-1]]
    new_points = panel.lengths
    kept = np.zeros(len(panel), dtype=np.int64)  # saved points put in front of each series
    if known.any():
        mine = np.flatnonzero(known)
        last = tail.ds[tail.ends[position[mine]] - 1]
        steps = [state.steps[p] for p in position[mine]]
        expected = future_times(last, steps, 1, tail.tz)[:, 0]
        gap = first[mine] > expected
        if gap.any():
            i = int(np.argmax(gap))
            raise DataError(
                f"series {panel.ids[mine[i]]!r} continues at "
                f"{show_time(panel.in_zone(first[mine[i]:mine[i] + 1])[0])}, but the model's "
                f"data for it ends at {show_time(tail.in_zone(last[i:i + 1])[0])}: give the "
                "points in between (an update continues each series where the model left it)"
            )  # fmt: skip
        # Per known series: its saved rows older than its first given point.
        in_panel = np.full(len(tail), -1)
        in_panel[position[mine]] = mine
        tail_series = np.repeat(np.arange(len(tail)), tail.lengths)
        row_panel = in_panel[tail_series]
        older = (row_panel >= 0) & (tail.ds < first[row_panel])
        kept[mine] = np.bincount(tail_series[older], minlength=len(tail))[position[mine]]
        # Per known series: its given points after the model's last.
        last_of = first.copy()  # new series: every point is new (masked below)
        last_of[mine] = last
        panel_series = np.repeat(np.arange(len(panel)), panel.lengths)
        is_new = ~known[panel_series] | (panel.ds > last_of[panel_series])
        new_points = np.bincount(panel_series[is_new], minlength=len(panel))
    tail_rows = concatenated_ranges(
        np.where(known, tail.starts[:-1][position], 0),
        np.where(known, tail.starts[:-1][position] + kept, 0),
    )
    panel_rows = np.arange(len(panel.y))
    series_of = np.concatenate(
        [np.repeat(np.arange(len(panel)), kept), np.repeat(np.arange(len(panel)), panel.lengths)]
    )
    source = np.concatenate([np.zeros(len(tail_rows)), np.ones(len(panel_rows))])
    order = np.lexsort((np.arange(len(series_of)), source, series_of))

    def stacked(old: np.ndarray, new: np.ndarray) -> np.ndarray:
        return np.concatenate([old[tail_rows], new[panel_rows]])[order]

    marks = None  # which points were missing (a model with missing=...)
    if tail.missing is not None or panel.missing is not None:
        marks = stacked(*(marks_of(part) for part in (tail, panel)))
    joined = Panel(
        ids=panel.ids,
        y=stacked(tail.y, panel.y),
        ds=stacked(tail.ds, panel.ds),
        starts=np.concatenate([[0], np.cumsum(kept + panel.lengths)]).astype(np.int64),
        tz=panel.tz,
        covariates=(
            None if panel.covariates is None else stacked(tail.covariates, panel.covariates)
        ),
        covariate_names=panel.covariate_names,
        missing=marks,
    )
    return joined, new_points


def update_split(
    panel: Panel, new_points: np.ndarray, window: int, horizon: int, val_size: Any
) -> np.ndarray:
    """Points of each series (n,) to train on: all but a validation tail of ``val_size`` of its
    new points (a whole horizon at least; none when it has fewer new points than that).

    A series the model never saw must hold a training window and its validation tail, as in
    fit; a known one trains on what it has. No training window at all is refused.
    """
    n_val = np.zeros_like(new_points)
    if val_size is not None:
        n_val = np.maximum(validation_points(new_points, val_size), horizon)
        n_val = np.where(new_points >= n_val, n_val, 0)
    n_train = panel.lengths - n_val
    windows = np.maximum(n_train - window - horizon + 1, 0)
    if windows.sum() == 0:
        needed = horizon + (0 if val_size is None else horizon)
        raise DataError(
            f"the new data makes no training window: a series the model knows needs "
            f"{points(needed)} after the model's last (horizon {horizon}"
            + ("" if val_size is None else " and a validation horizon")
            + f"), a new series window {window} + horizon {horizon} and its validation tail"
        )
    return n_train


def scaling_for(
    state: FittedState,
    panel: Panel,
    n_train: np.ndarray,
    scaler_kind: str,
    spec: CovariateSpec,
    season_length: int,
) -> tuple[FittedState, SeriesScaler, CovariateScaler | None, tuple[str, ...]]:
    """``state`` with the series of ``panel`` it does not know scaled from their training
    points (``n_train``), the scaling of ``panel``'s series in its order, and the new ids.

    A new series too short for a training window is refused by :func:`check_new_series`.
    """
    state, cold = with_series_of(state, panel, scaler_kind, spec, n_train, season_length)
    rows = state.scaler.rows_of(panel.ids)
    scaler = state.scaler.take(rows, panel.ids)
    covariates = state.covariate_scaler
    if covariates is not None:
        covariates = CovariateScaler(covariates.shift[rows], covariates.scale[rows])
    return state, scaler, covariates, cold


def check_new_series(
    panel: Panel, n_train: np.ndarray, new_ids: tuple[str, ...], window: int, horizon: int
) -> None:
    """Refuse a series new to the model that holds no training window, named."""
    new = np.isin(panel.ids.astype(str), new_ids)
    short = new & (n_train < window + horizon)
    if short.any():
        i = int(np.argmax(short))
        needed = window + horizon + panel.lengths[i] - n_train[i]
        raise DataError(
            f"series {panel.ids[i]!r} is new to the model and has {points(panel.lengths[i])}; "
            f"window {window} + horizon {horizon} + its validation tail needs at least {needed}"
        )


def merged_tail(state: FittedState, panel: Panel, steps: list[Any], window: int) -> FittedState:
    """``state`` with the last ``window`` points of each series of ``panel`` (and its time
    step) replacing the saved ones; series only the model has keep theirs, new ones come last
    (in the order of ``state.scaler``, which already holds them)."""
    old, new = state.tail, panel.tail(window)
    updated = {str(series_id): i for i, series_id in enumerate(new.ids)}
    stays = np.array([str(series_id) not in updated for series_id in old.ids], dtype=bool)
    keep = old.series(np.flatnonzero(stays))
    both = Panel(
        ids=np.concatenate([keep.ids, new.ids]),
        y=np.concatenate([keep.y, new.y]),
        ds=np.concatenate([keep.ds, new.ds]),
        starts=np.concatenate([keep.starts[:-1], keep.starts[-1] + new.starts]),
        tz=old.tz,
        covariates=None if old.covariates is None else np.concatenate(
            [keep.covariates, new.covariates]
        ),
        covariate_names=old.covariate_names,
        missing=joined_marks([keep, new]),
    )  # fmt: skip
    order = both.positions([str(series_id) for series_id in state.scaler.ids])
    step_of = dict(zip((str(i) for i in old.ids), state.steps, strict=True))
    step_of |= dict(zip((str(i) for i in panel.ids), steps, strict=True))
    return dataclasses.replace(
        state,
        tail=both.series(order),
        steps=[step_of[str(series_id)] for series_id in state.scaler.ids],
    )


def warm_starts(state: FittedState) -> list[WarmStart]:
    """Each network's weights and Adam state, to continue training from."""
    optimizers = state.optimizers + [None] * (len(state.networks) - len(state.optimizers))
    return [
        WarmStart(
            network.state_dict(),  # loaded by copy into the update's own networks
            optimizers[member],
        )
        for member, network in enumerate(state.networks)
    ]


def update_step(panel: Panel, seed: int, training: dict[str, Any], networks: int) -> dict[str, Any]:
    """The training chain's record of an update on ``panel``."""
    facts = training_data(panel, data_fingerprint(panel))
    return chain_step("update", facts, seed, training | {"ensemble_size": networks})


class Updatable:
    """``update`` for the LSTM forecaster (a mixin: its methods read the estimator's settings,
    fitted state and forecasting; see LSTMForecaster)."""

    _state: Any
    _chosen: dict[str, Any]
    _rules: Any
    window: Any
    horizon: Any
    scaler: Any
    quantile_levels: Any
    season_length: Any
    random_state: Any
    missing: Any
    epochs: Any
    networks_: Any
    tail_: Any
    calibration_: Any
    alias: str
    if TYPE_CHECKING:

        def _modelled(self, panel: Panel) -> Panel: ...

    def update(
        self,
        df: Any,
        *,
        epochs: int | str = AUTO,
        batch_size: int | str = AUTO,
        lr: float | str = AUTO,
        lr_schedule: str | None = AUTO,
        patience: int | str | None = AUTO,
        time_budget: float | str | None = AUTO,
        val_size: int | float | str | None = AUTO,
        grad_clip: float | str | None = AUTO,
        random_state: int | None = None,
        callbacks: Sequence[Callback] = (),
        id_col: str | None = None,
        time_col: str | None = None,
        target_col: str | None = None,
        static_df: Any = None,
    ) -> Any:
        """Train the fitted networks further on ``df``; return self.

        ``df`` holds new points of series the model knows (each continues where the model's
        data for it ends; its saved last ``window`` points are put in front, so a horizon of new
        points makes a window) and series it never saw (scaled from their training part, as fit
        would; they need a training window and a validation tail). Given points older than the
        model's last replace the saved ones and are trained on too. Training starts from each
        network's weights and Adam state; the schedule restarts over this update's epochs.

        Parameters
        ----------
        epochs, batch_size, lr, lr_schedule, patience, time_budget, val_size, grad_clip :
            how this update trains; "auto" (default): as the model was trained, except that
            the epochs and validation tail the recipe chose are chosen again for the new data.
            Other settings cannot change (the networks are the model's). ``val_size`` is of
            the new points. ``epochs=0`` refreshes the model without training: the saved
            windows move forward and the intervals are calibrated again on the new
            validation tail, with the weights and Adam states as they were.
        random_state : seed of this update (default the model's ``random_state``, else random);
            the same model, data and seed give the same weights bit for bit.
        callbacks, id_col, time_col, target_col, static_df : as in :meth:`fit`.

        The validation tail picks the best epoch, and the weights the update started from
        compete (``history_.best_epoch`` 0: none beat them). Intervals are calibrated again on
        it, and the sanity alarms recomputed. The model's training chain (``chain_``; saved,
        shown by ``lstmcast info``) records the data fingerprint, seed and settings of the fit
        and of every update. Ctrl-C leaves the model as it was and raises KeyboardInterrupt.
        """
        self._check_fitted()
        if distributed.active():
            raise ConfigError(
                "update runs in one process: call it outside torchrun (the model it writes "
                "forecasts anywhere)"
            )
        given = {
            "epochs": epochs, "batch_size": batch_size, "lr": lr, "lr_schedule": lr_schedule,
            "patience": patience, "time_budget": time_budget, "val_size": val_size,
            "grad_clip": grad_clip,
        }  # fmt: skip
        changes = {name: value for name, value in given.items() if not is_auto(value)}
        for name, value in changes.items():
            (REFRESH_EPOCHS if name == "epochs" else self._rules[name]).check(name, value)
        settings = self._current() | changes
        spec = spec_of(settings)
        if static_df is not None:
            df = merge_static(df, static_df, id_col or "unique_id", spec.static)
        names = {"id_col": id_col, "time_col": time_col, "target_col": target_col}
        panel, steps = self._panel_for(df, **names)
        joined, new_points = joined_with_tail(self._state, panel)
        if "val_size" in self._chosen and "val_size" not in changes and self.val_size is not None:
            # Chosen again, as for the fit's data: from the new points of each series (the
            # fewest any series brings).
            given = new_points[new_points > 0]
            settings["val_size"] = recipe.validation_points(
                self.horizon, len(joined), int(given.min()) if len(given) else 0,
                self.quantile_levels or (95,),
            )  # fmt: skip
        n_train = update_split(joined, new_points, self.window, self.horizon, settings["val_size"])
        # Scaled and windowed in model units (log(y) with a log target transform), as fit's
        # data was; the tail kept and the diagnostics stay in the data's units.
        modelled = self._modelled(joined)
        state, scaler, covariate_scaler, new_ids = scaling_for(
            self._state, modelled, n_train, self.scaler, spec, self.season_length
        )
        check_new_series(joined, n_train, new_ids, self.window, self.horizon)
        device = next(self.networks_[0].parameters()).device
        train_windows, val_windows, _ = fit_windows(
            modelled, scaler, n_train, device, window=self.window, horizon=self.horizon,
            scaler_kind=self.scaler, calendar=self._calendar(),
            validate=settings["val_size"] is not None, covariates=(covariate_scaler, spec),
            masked=self.missing == "mask",
        )  # fmt: skip
        if val_windows is not None and self.quantile_levels:
            check_calibrated_quantiles(
                self.quantile_levels, len(val_windows), len(joined), self.horizon,
                settings["val_size"],
            )  # fmt: skip
        if "epochs" not in changes:
            settings["epochs"] = (
                recipe.epochs_for(len(train_windows), settings["batch_size"])
                if "epochs" in self._chosen
                else self.epochs
            )
        seed = random_state if random_state is not None else self.random_state
        seed = secrets.randbits(62) if seed is None else seed
        if settings["epochs"] == 0:  # a refresh: the networks and their Adam states stay
            updated = dataclasses.replace(state, seed=seed)
        else:
            updated = dataclasses.replace(
                state, networks=[], histories=[], optimizers=[], seed=seed
            )
            trained = train_members(
                updated,
                self.networks_[0].config,
                # An update validates on its new points' tail (whatever val_at the fit had)
                # and keeps the best of its epochs and its starting weights there.
                dataclasses.replace(
                    train_config(settings),
                    keep_start=True,
                    start_margin=START_MARGIN,
                    select_epoch=True,
                ),
                len(self.networks_),
                (train_windows, val_windows),
                device,
                callbacks,
                None,
                None,
                None,
                warm=warm_starts(self._state),
            )
            if not trained:
                raise KeyboardInterrupt  # the model is left as it was
        updated = merged_tail(updated, joined, steps, self.window)
        if state.fills is not None:  # the missing ones among the new points are counted too
            updated.fills = state.fills.plus(Fills.of(joined, self.missing, new_points))
        training = {name: settings[name] for name in TRAINING_SETTINGS}
        updated.chain = [*state.chain, update_step(joined, seed, training, len(self.networks_))]
        before = self._state
        self._state = updated
        try:
            self.__dict__.pop("_step_of", None)  # the series and steps changed
            if val_windows is not None and len(val_windows):
                self._calibrate(val_windows)
            check_finite(
                self._forecast, self.tail_, self.calibration_, self.horizon,
                float(settings["lr"]), False,
            )  # fmt: skip
            self._state.diagnostics = validation_diagnostics(
                self._forecast, joined, n_train, self.horizon, self.season_length, self.alias
            )
        except BaseException:
            self._state = before
            self.__dict__.pop("_step_of", None)
            raise
        return self

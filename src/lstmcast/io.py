"""Saving and loading a fitted state: a model directory with ``config.json`` and weights.

Where it sits: beside the estimator, at the end of fitting and the start of forecasting. The
estimator (``lstm_forecaster``) hands its settings and :class:`~lstmcast.fitted.FittedState` to
:func:`save_state`, and builds itself from :func:`saved_settings` and :func:`read_state`; this
module never sees the estimator. The directory mechanics (lock, atomic replace, checksums) are
``modeldir``'s, the per-series arrays ``saved_series``'.

Nothing here ever unpickles: the config is JSON, every array (weights, scaler statistics, the
last window of each series) is a safetensors tensor, so loading a model cannot run code. A save
is atomic: the directory is written beside its destination and renamed into place, so a crash
leaves either the old model or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import __version__, distributed
from .card import versions
from .checkpoint import Resumable, write_training_state
from .covariates import CovariateScaler, StaticEncoder, spec_of
from .devices import pick_device
from .diagnostics import Diagnostics
from .errors import LstmcastError, ModelFileError
from .files import real_path
from .fitted import DEFAULT_COLUMNS, FittedState, StateSpec
from .intervals import CALIBRATION_GRID
from .layout import LAYOUTS
from .missing import Fills
from .model import LSTMNetwork, NetworkConfig
from .modeldir import (
    CHECKSUMS,
    CONFIG,
    FORMAT,
    FORMAT_VERSION,
    SERIES_SHARD,
    WEIGHTS,
    checksums_of,
    json_default,
    listed,
    make_staging,
    replace_dir,
    save_tensors,
    tensors_with_prefix,
    write_text,
    writing_model,
)
from .optimizer_state import read_optimizers, write_optimizers
from .recipe import TUTORIAL
from .saved_series import (
    COVARIATE_TENSORS,
    MISSING_TENSOR,
    SERIES_TENSORS,
    SPREAD_TENSOR,
    SavedSeries,
    read_series_shard,
    series_state,
)
from .train import History
from .windows import SeriesScaler


def save_state(
    path: str | os.PathLike[str],
    kind: str,
    params: dict[str, Any],
    state: FittedState,
    *,
    weights: list[dict[str, torch.Tensor]] | None = None,
    histories: list[History] | None = None,
    training: Resumable | None = None,
) -> None:
    """Write a model (estimator class ``kind``, settings ``params``, fitted ``state``) to
    directory ``path`` atomically, replacing an lstmcast model there.

    A checkpoint taken during training passes the networks' ``weights`` and ``histories`` so far
    and the ``training`` state to resume from, saved beside the model as
    ``training_state.json`` and ``training_state.safetensors``.

    A directory holding files lstmcast did not write is refused, and the directory is locked
    while it is written (see :func:`~lstmcast.modeldir.writing_model`); a symbolic link at
    ``path`` stays and the directory it points to is replaced. ``config.json`` records the
    SHA-256 of every other file, checked when the model is read.

    In a process group rank 0 writes the model. A model trained on sharded data (each rank its
    own series) is saved by all ranks together: each writes its series' state as
    ``series-<rank>.json`` and ``series-<rank>.safetensors`` into rank 0's staging directory,
    which rank 0 completes and renames into place.
    """
    with writing_model(path):
        _save_state(real_path(path), kind, params, state, weights, histories, training)


def _save_state(
    target: Path,
    kind: str,
    params: dict[str, Any],
    state: FittedState,
    weights: list[dict[str, torch.Tensor]] | None,
    histories: list[History] | None,
    training: Resumable | None,
) -> None:
    sharded = distributed.active() and state.sharded
    if distributed.rank() != 0 and not sharded:
        distributed.barrier()  # every rank holds the same model: rank 0's copy is written
        return
    staging = None
    if distributed.rank() == 0:
        staging = str(make_staging(target))
    if sharded:
        staging = distributed.from_rank0(staging)
    staging_dir = Path(str(staging))
    checksums: dict[str, str] = {}
    try:
        series, series_tensors = series_state(state)
        if sharded:
            shard = SERIES_SHARD.format(distributed.rank())
            tensors_name, json_name = f"{shard}.safetensors", f"{shard}.json"
            mine = {
                tensors_name: save_tensors(series_tensors, staging_dir, tensors_name),
                json_name: write_text(json.dumps(series) + "\n", staging_dir, json_name),
            }
            for written in distributed.gather(mine):  # also: every shard is written
                checksums |= written
            count = int(distributed.sum_across([float(len(state.tail))])[0])
            series = {
                "shards": distributed.world_size(),
                "count": count,
                "time_dtype": series["time_dtype"],
            }
            series_tensors = {}
        if distributed.rank() == 0:
            config = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "lstmcast_version": __version__,
                "class": kind,
                "params": params,
                "columns": state.columns,
                # The layout the command line read the data in (--layout), if it was named.
                "layout": state.layout,
                "network": state.networks[0].config.to_dict(),
                "seed": state.seed,
                # Which settings the recipe chose (the others were given) and why.
                "recipe": state.recipe,
                # How static covariates are encoded (numbers standardised, category codes).
                "static": None if state.static_encoder is None else state.static_encoder.to_dict(),
                # What the model learned from: series, points, time range, data fingerprint.
                "data": state.data,
                # The fit and each update since: data fingerprints, seeds, training settings.
                "chain": state.chain,
                # The missing target values it filled or masked, per series.
                "fills": None if state.fills is None else state.fills.to_dict(),
                "versions": versions(),
                # The sanity alarms on the validation tail: the summary line, per-series flags.
                "diagnostics": None if state.diagnostics is None else state.diagnostics.to_dict(),
                "histories": [history.to_dict() for history in histories or state.histories],
                "series": series,
            }
            if weights is None:
                weights = [network.state_dict() for network in state.networks]
            tensors = {
                f"network.{member}.{k}": v.detach().cpu().contiguous()
                for member, member_weights in enumerate(weights)
                for k, v in member_weights.items()
            }
            if state.calibration is not None:
                tensors[_CALIBRATION] = torch.from_numpy(state.calibration.astype(np.float64))
                config["calibration_size"] = state.calibration_size
                config["calibration_scale"] = state.calibration_scale
            checksums[WEIGHTS] = save_tensors(
                tensors | series_tensors, staging_dir, WEIGHTS, metadata={"format": FORMAT}
            )
            checksums |= write_optimizers(state.optimizers[: len(weights)], staging_dir)
            if training is not None:
                checksums |= write_training_state(training, staging_dir)
            config[CHECKSUMS] = dict(sorted(checksums.items()))
            text = json.dumps(config, indent=2, default=json_default) + "\n"
            write_text(text, staging_dir, CONFIG)
            replace_dir(staging_dir, target)
    finally:
        if distributed.rank() == 0:
            shutil.rmtree(staging_dir, ignore_errors=True)
    distributed.barrier()  # no rank reads the model before it is in place


@contextlib.contextmanager
def reading_model(path: str | os.PathLike[str]) -> Iterator[None]:
    """Turn any inconsistency met while building a model from ``path`` into ModelFileError.

    Every part of the directory is checked against the others before anything is built, so a
    damaged or doctored model is refused with :class:`ModelFileError` rather than failing later.
    """
    try:
        yield
    except ModelFileError:
        raise
    except (
        KeyError, TypeError, ValueError, RuntimeError, AttributeError, IndexError,
        OverflowError, LstmcastError, OSError,
    ) as error:  # fmt: skip
        if isinstance(error, KeyError):  # a str of a KeyError is just the quoted key
            detail = f"missing entry {error.args[0]!r}" if error.args else "KeyError"
        else:
            detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ModelFileError(
            f"{path} does not hold a consistent lstmcast model ({detail}); save it again"
        ) from None


def saved_settings(config: dict[str, Any], kind: str) -> dict[str, Any]:
    """The estimator settings ``config`` records, for a model of class ``kind`` (JSON lists
    back to tuples)."""
    if config["class"] != kind:
        raise ValueError(f"unknown model class {config['class']!r}")
    params = dict(config["params"])
    # A model saved before a setting existed used the value that was then the default: the
    # tutorial's (not "auto", which only a fit resolves); before forget_bias, torch's
    # initialisation (the tutorial's value came later).
    params.setdefault("forget_bias", None)
    for name, value in TUTORIAL.items():
        params.setdefault(name, value)
    # Quantile heads trained jointly (all on the pinball loss) before the choice existed.
    params.setdefault("quantile_training", "joint")
    params.setdefault("median_weight", 1.0)
    # Saved before the setting existed: their forecasts and intervals were the median's.
    params.setdefault("ensemble_combine", "median")
    params.setdefault("interval_scale", None)
    # The network learned the values as they were before target_transform existed.
    params.setdefault("target_transform", None)
    for name in ("calendar", "quantile_levels"):
        if isinstance(params.get(name), list):  # JSON has no tuples
            params[name] = tuple(params[name])
    return params


def read_state(
    config: dict[str, Any],
    tensors: dict[str, torch.Tensor],
    directory: Path,
    spec: StateSpec,
    part: tuple[int, int] | None = None,
) -> FittedState:
    """Check a model's config and tensors (see ``modeldir.read_model``) against each other and
    the ``spec`` its settings give, and build its fitted state.

    ``part=(k, n)`` keeps only the k-th of n shares of the series (sharded forecasting): series
    files k, k + n, ... of a model trained on sharded data, else the k-th of n even blocks.
    Raises ValueError (and the like) for an inconsistency; see :func:`reading_model`.
    """
    network_config = NetworkConfig(**config["network"])
    for name, value in spec.network.items():
        if getattr(network_config, name) != value:
            raise ValueError(f"the network's {name} does not match the settings")
    histories = [History.from_dict(history) for history in config["histories"]]
    if not 1 <= len(histories) <= spec.ensemble_size:
        raise ValueError(
            f"{len(histories)} trained networks for ensemble_size {spec.ensemble_size}"
        )
    _check_tensor_names(config, tensors, directory, len(histories))
    networks = _read_networks(tensors, directory, network_config, len(histories), spec.device)
    series = config["series"]
    if "shards" in series:
        shards = series["shards"]
        if not isinstance(shards, int) or shards < 1:
            raise ValueError(f"invalid number of series files {shards!r}")
        chosen = range(shards) if part is None else range(part[0], shards, part[1])
        kept = SavedSeries.concatenate(
            [
                read_series_shard(directory, k, spec.window, checksums_of(config, directory))
                for k in chosen
            ],
            np.dtype(series["time_dtype"]),
        )
        if part is None and len(kept.ids) != series["count"]:
            raise ValueError(f"the series files hold {len(kept.ids)} series, not {series['count']}")
        if len(np.unique(kept.ids.astype(str))) != len(kept.ids):
            raise ValueError("a series is in two series files")
        trained_series = series["count"]
    else:
        kept = SavedSeries.read(series, tensors, spec.window)
        trained_series = len(kept.ids)
        if part is not None:
            kept = kept.select(np.array_split(np.arange(len(kept.ids)), part[1])[part[0]])
    covariates = spec_of(config["params"])
    static_encoder = None
    if covariates.static:
        static_encoder = StaticEncoder.from_dict(config["static"])
        if sorted(static_encoder.names) != sorted(covariates.static):
            raise ValueError("the static covariate encoding does not match static_cols")
        if network_config.static_categories != static_encoder.cardinalities:
            raise ValueError("the network's static embeddings do not match their encoding")
    names = covariates.dynamic + (static_encoder.names if static_encoder else ())
    covariate_scaler = None
    if names:
        if kept.covariate_shift is None or kept.covariate_shift.shape[1] != len(names):
            raise ValueError(f"the saved covariate statistics do not hold {listed(list(names))}")
        covariate_scaler = CovariateScaler(kept.covariate_shift, kept.covariate_scale)
    state = FittedState(
        networks=networks,
        histories=histories,
        scaler=SeriesScaler(kept.ids, kept.shift, kept.scale, kept.spread),
        tail=replace(kept.tail, covariate_names=names),
        steps=kept.steps,
        columns={},
        seed=0,
        covariate_scaler=covariate_scaler,
        static_encoder=static_encoder,
        trained_series=None if part is None else trained_series,
    )
    if _CALIBRATION in tensors:
        _read_calibration(config, tensors[_CALIBRATION].numpy(), spec, state)
    # Models saved before they kept their column names were read with the defaults.
    columns = config.get("columns", DEFAULT_COLUMNS)
    if not (
        isinstance(columns, dict)
        and columns.keys() == DEFAULT_COLUMNS.keys()
        and all(isinstance(name, str | None) for name in columns.values())
    ):
        raise ValueError(f"invalid column names {columns!r}")
    state.columns = dict(columns)
    layout = config.get("layout")
    if layout is not None and layout not in LAYOUTS:
        raise ValueError(f"invalid layout {layout!r}")
    state.layout = layout
    state.seed = int(config["seed"])
    recipe = config.get("recipe")
    if recipe is not None and not (
        isinstance(recipe, dict)
        and isinstance(recipe.get("chosen"), list)
        and all(isinstance(name, str) and name in TUTORIAL for name in recipe["chosen"])
        and isinstance(recipe.get("reasons"), list)
        and all(isinstance(line, str) for line in recipe["reasons"])
    ):
        raise ValueError(f"invalid recipe {recipe!r}")
    state.recipe = recipe
    data = config.get("data")  # absent from models saved before the model card
    if data is not None and not (isinstance(data, dict) and isinstance(data.get("series"), int)):
        raise ValueError(f"invalid training data description {data!r}")
    state.data = data
    chain = config.get("chain", [])  # absent from models saved before updates
    if not (isinstance(chain, list) and all(isinstance(step, dict) for step in chain)):
        raise ValueError(f"invalid training chain {chain!r}")
    state.chain = chain
    shapes = [parameter.shape for parameter in networks[0].parameters()]
    state.optimizers = read_optimizers(
        directory, checksums_of(config, directory), len(networks), shapes
    )
    fills = config.get("fills")  # absent from models saved before missing values were handled
    if fills is not None:
        if not isinstance(fills, dict):
            raise ValueError(f"invalid missing-value counts {fills!r}")
        state.fills = Fills.from_dict(fills)
    diagnostics = config.get("diagnostics")  # absent from models saved before the alarms
    if diagnostics is not None:
        if not isinstance(diagnostics, dict):
            raise ValueError(f"invalid diagnostics {diagnostics!r}")
        state.diagnostics = Diagnostics.from_dict(diagnostics)
    return state


def _read_networks(
    tensors: dict[str, torch.Tensor],
    directory: Path,
    config: NetworkConfig,
    members: int,
    device: str | None,
) -> list[LSTMNetwork]:
    """The ``members`` networks of ``config`` with their saved weights, on ``device``."""
    # Check the weights' shapes before building anything, so sizes in the config cannot make
    # this allocate more than the weights file holds.
    H = config.hidden_size
    for member in range(members):
        last = f"network.{member}.lstm.weight_hh_l{config.num_layers - 1}"
        if last not in tensors or tuple(tensors[last].shape) != (4 * H, H):
            raise ValueError(f"weights of network {member} do not match hidden_size and num_layers")
    if not all(torch.isfinite(t).all() for k, t in tensors.items() if k.startswith("network.")):
        raise ValueError("the network weights hold NaN or infinite values")
    networks = []
    for member in range(members):
        network = LSTMNetwork(config)
        try:
            network.load_state_dict(tensors_with_prefix(tensors, f"network.{member}."))
        except RuntimeError:
            raise ModelFileError(
                f"{directory / WEIGHTS} does not match {directory / CONFIG}: the weights of "
                f"network {member} are not those of the network the config describes; use the "
                "files saved together, or save the model again"
            ) from None
        networks.append(network.to(pick_device(device)).eval())
    return networks


def _read_calibration(
    config: dict[str, Any], calibration: np.ndarray, spec: StateSpec, state: FittedState
) -> None:
    """Check the saved interval calibration against the settings and keep it in ``state``."""
    size = config["calibration_size"]
    if config["format_version"] == 1:  # format 1 kept its one row without the first axis
        calibration = calibration[None]
    # CALIBRATION_GRID is part of the file format: a table of another size is refused.
    expected = (spec.intervals, CALIBRATION_GRID, spec.horizon)
    if calibration.shape != expected or not isinstance(size, int):
        raise ValueError("the interval calibration does not match the horizon and levels")
    if size < 1 or not np.isfinite(calibration).all():
        raise ValueError("the interval calibration is not finite")
    # Format 1 measured conformity scores in each series' standard deviations.
    scale = config.get("calibration_scale", "series")
    if scale not in ("series", "window"):
        raise ValueError(f"unknown interval calibration scale {scale!r}")
    state.calibration, state.calibration_size = calibration, size
    state.calibration_scale = scale


_CALIBRATION = "calibration.quantiles"


def _check_tensor_names(
    config: dict[str, Any], tensors: dict[str, torch.Tensor], directory: Path, members: int
) -> None:
    """Refuse weights holding other tensors than the config describes (another model's)."""
    sharded = "shards" in config["series"]
    calibrated = "calibration_size" in config
    networks = tuple(f"network.{member}." for member in range(members))
    described = set() if sharded else set(SERIES_TENSORS)
    if not sharded and spec_of(config["params"]):
        described |= set(COVARIATE_TENSORS)
    if not sharded and config["params"].get("missing", "error") != "error":
        described.add(MISSING_TENSOR)
    if calibrated:
        described.add(_CALIBRATION)
    if not sharded and SPREAD_TENSOR in tensors:  # optional: models saved before it lack it
        described.add(SPREAD_TENSOR)
    extra = sorted(k for k in tensors if k not in described and not k.startswith(networks))
    missing = sorted(described - tensors.keys())
    missing += [f"{p}*" for p in networks if not any(k.startswith(p) for k in tensors)]
    if not extra and not missing:
        return
    problems = []
    if extra:
        problems.append(f"it holds {listed(extra)}, which the config does not describe")
    if missing:
        problems.append(f"it lacks {listed(missing)}, which the config describes")
    raise ModelFileError(
        f"{directory / WEIGHTS} does not match {directory / CONFIG}: {' and '.join(problems)}; "
        "the weights come from another model or were changed: use the files saved together, "
        "or save the model again"
    )

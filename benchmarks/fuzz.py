"""Fuzz lstmcast's two file readers: ``read_csv`` on mutated CSV files, ``load`` on mutated models.

Usage (from the repository root, after `make test` or `make demo` has built .venv):

    .venv/bin/python -m benchmarks.fuzz --seconds 60 [--seed 0] [--target csv|model|all]
    .venv/bin/python -m benchmarks.fuzz --seconds 60 --out /tmp/lstmcast-fuzz --timeout 5

The contract under test: any file either works or is refused with an ``lstmcast.LstmcastError``.
The fuzzer starts from a few valid inputs (CSV files: long, wide, single-series, integer time,
quoted ids, UTC offsets (one, and mixed at a DST change), a duplicated header name, an extra
column, a wide file with a column named like the target, Latin-1 bytes, ids that read like
missing values, monthly dates on the 15th; model directories saved by two tiny freshly trained
models and their twins of the same shape), mutates them (byte flips, interesting tokens,
deletions, duplicated lines, truncation, splices, header names replaced by others; JSON edits of
``config.json``; bit flips, header and tensor edits of ``weights.safetensors``, a pickle payload,
the weights of a different model or of a twin of the same shape) and feeds each mutant to
``lstmcast.read_csv`` (then a ``Naive`` forecast of what it read) or to ``lstmcast.load``
followed by ``predict(3)``. ``config.json`` records the SHA-256 of the weights, which refuses any
edited weights file; so that the checks behind it are fuzzed too, a mutant's config is often
re-signed with the new digest or has it removed (as a model saved before checksums), except after
a twin's weights were swapped in, which must be refused.

A finding is:

- an exception that is not an ``LstmcastError`` (MemoryError and RecursionError included);
- an input accepted with a broken result: a frame that breaks ``read_csv``'s documented contract
  (see :func:`frame_problem`), a forecast frame of the wrong shape, or a model whose weights file
  does not have the SHA-256 its ``config.json`` records;
- a pickle payload that ran when loaded, or an input taking longer than ``--timeout`` seconds.

Each finding is saved under ``--out`` (the input and its traceback) and summarised by signature;
warnings are counted and shown but are not findings. The exit code is 1 if there are findings.

``--seconds`` bounds the fuzz loops (split evenly between targets for ``all``); training the two
seed models takes about a second more. The run is deterministic for a given seed up to how many
inputs fit in the time. The process address space is capped while fuzzing, so a mutated size in a
config fails fast with a memory error instead of swapping a shared machine.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import pickle
import random
import re
import shutil
import signal
import struct
import sys
import tempfile
import threading
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

TARGETS = ("csv", "model")
DEFAULT_OUT = Path(tempfile.gettempdir()) / "lstmcast-fuzz"
MAX_CSV_BYTES = 64_000  # small mutants parse fast, so many are tried per second
MEMORY_BUDGET = 4 << 30  # bytes of address space allowed on top of what the process already uses
SAVED_PER_SIGNATURE = 3  # inputs kept on disk per distinct finding


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


@dataclass
class Finding:
    """One input that broke the contract."""

    target: str
    number: int  # the input's number within its target
    kind: str  # "exception", "invalid result", "hang" or "pickle ran"
    summary: str  # exception type and first line of its message
    signature: str  # kind, type and innermost lstmcast frame: findings with one cause share it
    details: str  # the full traceback or the problem found
    saved: Path | None = None


@dataclass
class TargetStats:
    """What happened to the inputs of one target."""

    target: str
    tried: int = 0
    lstmcast_errors: int = 0
    accepted: int = 0
    seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)
    warnings: Counter[str] = field(default_factory=Counter)  # "Category: message" -> inputs
    notes: Counter[str] = field(default_factory=Counter)  # accepted but odd, not a finding

    def report(self) -> list[str]:
        """The lines the command prints for this target."""
        warned = sum(self.warnings.values())
        lines = [
            f"{self.target}: {self.tried} inputs in {self.seconds:.1f} s: "
            f"{self.lstmcast_errors} lstmcast errors, {self.accepted} accepted, "
            f"{len(self.findings)} findings"
        ]
        by_signature: dict[str, list[Finding]] = {}
        for finding in self.findings:
            by_signature.setdefault(finding.signature, []).append(finding)
        for signature, group in by_signature.items():
            example = group[0]
            where = f" (saved: {example.saved})" if example.saved else ""
            lines.append(f"  FINDING x{len(group)}: {signature}")
            lines.append(f"    e.g. input {example.number}: {example.summary[:200]}{where}")
        for note, count in self.notes.most_common():
            lines.append(f"  note x{count}: {note}")
        if warned:
            lines.append(f"  warnings (not findings), {len(self.warnings)} kinds:")
            for message, count in self.warnings.most_common(8):
                lines.append(f"    x{count}: {message[:160]}")
        return lines


class _Hang(BaseException):
    """Raised by the alarm in an input that runs too long (BaseException: nothing catches it)."""


class _OddResultError(Exception):
    """Accepted with a questionable but not contract-breaking result (counted, not a finding)."""


class _BrokenContractError(Exception):
    """An input was accepted but its result breaks the contract."""

    def __init__(self, kind: str, problem: str, details: str = "") -> None:
        super().__init__(f"{problem}{': ' if details else ''}{details}")
        self.kind = kind  # "invalid result" or "pickle ran"
        self.problem = problem  # short and input-independent: findings are grouped by it


# ---------------------------------------------------------------------------------------------
# The oracle for read_csv
# ---------------------------------------------------------------------------------------------


def frame_problem(frame: Any, header: Sequence[str] | None = None) -> str | None:
    """What is wrong with a frame ``read_csv`` returned, or None if it keeps the contract.

    The contract (``lstmcast.data.to_long``): columns ``unique_id`` (str), ``ds`` (datetime64,
    naive or in the zone the layout names, or int64), ``y`` (finite float64), at least one row,
    rows grouped by series, time strictly increasing within each series; ``lstmcast.layouts``
    names one layout whose series are the frame's. With the file's ``header`` (its column names),
    every column is used or ignored on purpose, none twice.
    """
    import pandas as pd

    import lstmcast as lc

    if not isinstance(frame, pd.DataFrame):
        return f"not a DataFrame but {type(frame).__name__}"
    if list(frame.columns) != ["unique_id", "ds", "y"]:
        return f"columns are {list(frame.columns)}"
    if len(frame) == 0:
        return "no rows"
    ids = frame["unique_id"].to_numpy(dtype=object)
    not_str = [i for i in ids if not isinstance(i, str)]
    if not_str:
        return f"unique_id holds a non-string {not_str[0]!r} ({type(not_str[0]).__name__})"
    y = frame["y"].to_numpy()
    if y.dtype != np.float64:
        return f"y has dtype {y.dtype}"
    if not np.isfinite(y).all():
        return f"y holds a non-finite value {y[~np.isfinite(y)][0]}"
    how = lc.layouts(frame)
    if len(how) != 1 or how[0].kind not in ("long", "wide", "single"):
        return f"layouts are {how!r}"
    layout = how[0]
    zone = _zone(frame["ds"])
    if zone != _zone_named(layout.tz):
        return f"ds is in zone {zone}, the layout says {layout.tz}"
    if zone is not None:
        ds = frame["ds"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    else:
        ds = frame["ds"].to_numpy()
    if not (ds.dtype == np.int64 or ds.dtype.kind == "M"):
        return f"ds has dtype {ds.dtype}"
    if ds.dtype.kind == "M" and np.isnat(ds).any():
        return "ds holds NaT"
    series = list(dict.fromkeys(ids))
    if len(series) != layout.n_series:
        return f"{len(series)} series, the layout says {layout.n_series}"
    if layout.kind == "wide" and series != list(layout.series_cols):
        return f"series {series[:4]} are not the wide layout's columns {layout.series_cols[:4]}"
    if layout.kind == "single" and series != [layout.target_col]:
        return f"the one series is {series[:2]}, not the target column {layout.target_col!r}"
    if header is not None:
        roles = [layout.time_col, layout.id_col, layout.target_col, *layout.series_cols]
        used = [name for name in roles if name is not None] + list(layout.ignored)
        if sorted(used) != sorted(header):
            return f"columns used or ignored {sorted(used)} are not the header's {sorted(header)}"
    change = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    firsts = ids[np.concatenate([[0], change])]
    if len(set(firsts)) != len(firsts):
        return "rows are not grouped by series"
    same = ids[1:] == ids[:-1]
    if (same & ~(ds[1:] > ds[:-1])).any():
        return "time is not strictly increasing within a series"
    return None


# ---------------------------------------------------------------------------------------------
# Mutations shared by both targets
# ---------------------------------------------------------------------------------------------

TOKENS: tuple[bytes, ...] = (
    *(b"nan", b"NaN", b"NA", b"null", b"None", b"", b"True", b"-", b"#"),
    *(b"inf", b"-inf", b"Infinity", b"1e400", b"-1e400", b"1e-400", b"5e-324", b"-0"),
    *(b"1e308", b"1e19", b"1e30", b"9" * 40, b"18446744073709551615", b"9223372036854775808"),
    *(b"-9223372036854775809", b"0x1F", b"1_000", b"1,5", b"+1", b"1.", b".5", b"007"),
    *(b",", b";", b'"', b'""', b"'", b"\n", b"\r", b"\r\n", b"\t", b" ", b"\x00", b"\\"),
    *(b"\xef\xbb\xbf", b"\xff\xfe", b"\xff", b"\xc3", b"\xc3\xa9", b"\xe2\x80\xa8", b"\xf0\x9f"),
    *(b"2024-13-45", b"31/12/2024", b"12/31/2024", b"1.7.2024", b"Jan 1 2024", b"20240101"),
    *(b"2024-01-01T00:00:00Z", b"2024-01-01 00:00:00+05:30", b"2024-W01-1", b"1970-01-01"),
    *(b"2262-04-12", b"1677-09-21", b"9999-12-31", b"0001-01-01", b"2024-02-30", b"24:00"),
    *(b"unique_id", b"ds", b"y", b"date", b"t", b"value", b"x", b"a"),
    *(b"+01:00", b"+02:00", b"-05:30", b"Z", b"\xe9", b"\x96", b"N/A", b"<NA>", b"2024-02-15"),
)


def _mutate_bytes(data: bytes, rng: random.Random, others: Sequence[bytes]) -> bytes:
    """One random byte-level mutation."""
    n = len(data)
    pos = rng.randrange(n + 1)
    kind = rng.randrange(9)
    if kind == 0 and n:  # flip one bit
        i = rng.randrange(n)
        return data[:i] + bytes([data[i] ^ (1 << rng.randrange(8))]) + data[i + 1 :]
    if kind == 1 and n:  # one random byte
        i = rng.randrange(n)
        return data[:i] + bytes([rng.randrange(256)]) + data[i + 1 :]
    if kind == 2:  # insert a token
        return data[:pos] + rng.choice(TOKENS) + data[pos:]
    if kind == 3 and n:  # delete a span
        end = min(n, pos + rng.randint(1, max(1, n // 4)))
        return data[:pos] + data[end:]
    if kind == 4:  # truncate
        return data[:pos]
    if kind == 5 and others:  # splice: this file's start, another's end
        other = rng.choice(others)
        return data[:pos] + other[rng.randrange(len(other) + 1) :]
    if kind == 6:  # random bytes
        return data[:pos] + rng.randbytes(rng.randint(1, 16)) + data[pos:]
    if kind == 7 and n:  # copy a span elsewhere
        start = rng.randrange(n)
        span = data[start : start + rng.randint(1, 32)]
        return data[:pos] + span + data[pos:]
    return data[:pos] + rng.choice((b"\xef\xbb\xbf", b"\x00", b"\xff", b"\n")) + data[pos:]


# ---------------------------------------------------------------------------------------------
# CSV target
# ---------------------------------------------------------------------------------------------

# Seed files and the read_csv options that read them.
CSV_SEEDS: dict[str, tuple[bytes, dict[str, Any]]] = {
    "long": (
        b"unique_id,ds,y\na,2024-01-01,1.5\na,2024-01-02,2\na,2024-01-03,-0.25\n"
        b"b,2024-01-01,10\nb,2024-01-02,11\nb,2024-01-03,12.5\n",
        {},
    ),
    "wide": (
        b"date,HUFL,OT\n2016-07-01 00:00:00,5.8,30.5\n2016-07-01 01:00:00,5.7,27.8\n"
        b"2016-07-01 02:00:00,5.2,27.0\n",
        {"time_col": "date"},
    ),
    "single": (b"ds,y\n2024-01-01 00:00,1\n2024-01-01 01:00,2\n2024-01-01 02:00,3\n", {}),
    "integer": (
        b"t,value\n0,1.5\n1,2.5\n2,3.5\n3,4.5\n",
        {"time_col": "t", "target_col": "value"},
    ),
    "quoted": (
        'unique_id,ds,y\n"a,1",0,1e-3\n"a,1",1,2E5\n"é ""q""",0,-3\n"é ""q""",1,4\n'.encode(),
        {},
    ),
    "zoned": (b"ds,y\n2024-03-31T00:00:00+01:00,1\n2024-03-31T01:00:00+01:00,2\n", {}),
    "offset": (
        b"ds,y\n2024-01-09 07:00:00+01:00,1\n2024-01-09 08:00:00+01:00,2\n"
        b"2024-01-09 09:00:00+01:00,3\n",
        {},
    ),
    "dst change": (
        b"ds,y\n2024-03-31 00:00:00+01:00,1\n2024-03-31 01:00:00+01:00,2\n"
        b"2024-03-31 03:00:00+02:00,3\n2024-03-31 04:00:00+02:00,4\n",
        {},
    ),
    "duplicate header": (b"t,a,b,a\n0,1,2,3\n1,2,3,4\n2,3,4,5\n", {"time_col": "t"}),
    "extra column": (
        b"unique_id,ds,y,price\na,0,1,5\na,1,2,6\na,2,3,7\n",
        {"ignore_cols": ["price"]},
    ),
    "wide with y": (b"t,x,y,z\n0,1,2,3\n1,2,3,4\n2,3,4,5\n", {"time_col": "t", "layout": "wide"}),
    "latin-1": ("ds,y\n2024-01-01,1\n2024-01-02,2\n2024-01-03,3 \xe9\n".encode("latin-1"), {}),
    "na-like ids": (
        b"unique_id,ds,y\nNA,0,1\nNA,1,2\nnull,0,3\nnull,1,4\nNone,0,5\nNone,1,6\nnan,0,7\n",
        {},
    ),
    "monthly on the 15th": (
        b"ds,y\n2024-01-15,1\n2024-02-15,2\n2024-03-15,3\n2024-04-15,4\n2024-05-15,5\n",
        {},
    ),
}

_ISO_DATE = re.compile(rb"(\d{4})-(\d{2})-(\d{2})")
_DATE_FORMATS = (rb"\3/\2/\1", rb"\2/\3/\1", rb"\1\2\3", rb"\3.\2.\1", rb"\1-\3-\2", rb"\1/\2/\3")


def _mutate_lines(data: bytes, rng: random.Random) -> bytes:
    """One random line- or field-level mutation of a CSV file."""
    lines = data.split(b"\n")
    i = rng.randrange(len(lines))
    kind = rng.randrange(9)
    if kind == 0:  # duplicate a line
        lines.insert(rng.randrange(len(lines) + 1), lines[i])
    elif kind == 1:  # swap two lines
        j = rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == 2:  # delete a line
        del lines[i]
    elif kind == 3:  # replace one field by a token
        fields = lines[i].split(b",")
        fields[rng.randrange(len(fields))] = rng.choice(TOKENS)
        lines[i] = b",".join(fields)
    elif kind == 4:  # add or drop a column on every line
        if rng.random() < 0.5:
            lines = [line + b"," + rng.choice(TOKENS) for line in lines]
        else:
            lines = [line.rsplit(b",", 1)[0] for line in lines]
    elif kind == 5:  # dates in another format, on one line or everywhere
        repl = rng.choice(_DATE_FORMATS)
        if rng.random() < 0.5:
            lines[i] = _ISO_DATE.sub(repl, lines[i])
        else:
            lines = [_ISO_DATE.sub(repl, line) for line in lines]
    elif kind == 6:  # repeat the data rows (a longer file, duplicated times)
        lines = lines[:1] + lines[1:] * rng.randint(2, 50)
    elif kind == 7:  # one header name replaced by another's: duplicated, or a role swapped
        names = lines[0].split(b",")
        names[rng.randrange(len(names))] = rng.choice([*names, b"y", b"ds", b"unique_id"])
        lines[0] = b",".join(names)
    else:  # other separators or line endings
        old, new = rng.choice(((b",", b";"), (b",", b"\t"), (b"\n", b"\r\n"), (b"\n", b"\r")))
        return data.replace(old, new)
    return b"\n".join(lines)


def mutate_csv(data: bytes, rng: random.Random, others: Sequence[bytes]) -> bytes:
    """One to four random mutations of a CSV file."""
    for _ in range(rng.choice((1, 1, 2, 3, 4))):
        data = _mutate_lines(data, rng) if rng.random() < 0.5 else _mutate_bytes(data, rng, others)
        data = data[:MAX_CSV_BYTES]
    return data


def _csv_case(
    rng: random.Random, work: Path, number: int
) -> tuple[Callable[[], None], list[Path], list[str]]:
    """A mutated CSV file and the check to run on it."""
    import lstmcast as lc

    name = rng.choice(sorted(CSV_SEEDS))
    data, options = CSV_SEEDS[name]
    others = [seed for seed, _ in CSV_SEEDS.values()]
    mutant = mutate_csv(data, rng, others)
    options = {} if rng.random() < 0.15 else options  # the defaults on every kind of file
    path = work / f"input-{number}.csv"
    path.write_bytes(mutant)

    def check() -> None:
        frame = lc.read_csv(path, **options)
        problem = frame_problem(frame, _header(mutant))
        if problem is not None:
            raise _BrokenContractError(
                "invalid result", problem, f"read_csv({path.name}, **{options})"
            )
        # Time steps (calendar ones, zones) and the dates that continue them.
        forecast = lc.Naive().fit(frame).predict(2)
        zone = _zone(forecast["ds"])
        if zone != _zone(frame["ds"]):
            raise _BrokenContractError(
                "invalid result", "the forecast lost the time zone", f"ds in {zone}"
            )

    return check, [path], [f"read_csv(path, **{options}) on a mutant of the {name!r} seed"]


def _zone(times: Any) -> str | None:
    """The time zone of a column of times, as text; None for naive or integer times."""
    zone = getattr(times.dt, "tz", None) if times.dtype.kind == "M" else None
    return None if zone is None else str(zone)


def _zone_named(name: str | None) -> str | None:
    """The zone pandas makes of ``name`` ("+01:00" is "UTC+01:00"), as text."""
    import pandas as pd

    return None if name is None else str(pd.Timestamp(0, tz=name).tz)


def _header(data: bytes) -> list[str]:
    """The column names on a CSV file's header line (the first non-blank record)."""
    text = data.decode("utf-8-sig")
    for fields in csv.reader(io.StringIO(text, newline="")):
        if fields and not (len(fields) == 1 and not fields[0].strip()):
            return fields
    return []


# ---------------------------------------------------------------------------------------------
# Model target
# ---------------------------------------------------------------------------------------------


class PickleCanary:
    """Unpickling this creates ``marker``: proof that loading ran code from the file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (self.marker, "w"))


# The key of a seed model's twin: the same settings and data, another random_state.
TWIN = "{} twin"


def train_seed_models(directory: Path) -> dict[str, Path]:
    """Train and save two tiny models, integer time and dated series with more features, each
    with a twin of the same shape (other weights)."""
    import pandas as pd

    import lstmcast as lc

    models = {}
    for seed, name in ((0, "simple"), (1, TWIN.format("simple"))):
        simple = lc.LSTMForecaster(
            recipe="tutorial", window=8, hidden_size=4, epochs=1, random_state=seed
        )
        simple.fit(np.sin(np.arange(60) / 3))
        models[name] = directory / name
        simple.save(models[name])
    # Dates in a zone, hourly and monthly on the 15th (a step of months), an ensemble, calendar
    # features, segments: more of the format to break.
    hours = pd.date_range("2024-01-01", periods=40, freq="h", tz="Europe/Paris")
    months = pd.date_range("2020-01-01", periods=40, freq="MS", tz="Europe/Paris")
    fifteenths = months + pd.Timedelta(days=14)
    frame = pd.DataFrame(
        {
            "unique_id": np.repeat(["a", "b", "c"], 40),
            "ds": hours.append([hours, fifteenths]),
            "y": np.concatenate([np.sin(np.arange(40) / 4), np.arange(40) / 10, np.ones(40)]),
        }
    )
    for seed, name in ((0, "dated"), (1, TWIN.format("dated"))):
        dated = lc.LSTMForecaster(
            recipe="tutorial",
            window=8,
            horizon=2,
            hidden_size=4,
            epochs=1,
            segment=2,
            calendar=("hour",),
            window_norm="revin",
            ensemble_size=2,
            random_state=seed,
        )
        dated.fit(frame)
        models[name] = directory / name
        dated.save(models[name])
    return models


_JUNK: tuple[Any, ...] = (
    *(None, True, False, 0, -1, 1, 2, 3, 7, 1.5, -0.5, 1e-300, 1e308, 10**6, 10**9, 10**12),
    *(2**31, 2**63, -(2**63) - 1, 10**30, 10**400, float("nan"), float("inf"), float("-inf")),
    *("", "x", "8", "1.5", "cuda", "cpu", "meta", "nan", "revin", "last", "h", "D", "MS", "2h"),
    *("bogus", "int64", "float64", "datetime64[ns]", "<M8[D]", "object", "U5", "hour", "é" * 3),
    *([], {}, [1], [[]], {"int": 1}, {"freq": "h"}, {"freq": "bogus"}, {"int": "x"}, ["hour"]),
    *("Europe/Paris", "UTC", "+01:00", "+99:00", "Mars/Olympus", {"months": 1}, {"months": 0}),
    *({"months": 10**12}, {"months": "1"}, "long", "wide", "single"),
)


# json.dumps itself cannot write deep nesting; a placeholder string is expanded in the text.
_DEEP = re.compile(r'"<<deep:(\d+)>>"')


def _junk(rng: random.Random) -> Any:
    if rng.random() < 0.1:  # nested junk, down to depths no JSON reader expects
        return f"<<deep:{rng.choice((2, 10, 100, 5000))}>>"
    return rng.choice(_JUNK)


def _dumps(tree: Any, indent: int | None = None) -> bytes:
    """JSON text of ``tree`` with the deep-nesting placeholders expanded."""
    text = json.dumps(tree, indent=indent)
    return _DEEP.sub(lambda m: '[{"k": ' * int(m[1]) + "0" + "}]" * int(m[1]), text).encode()


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a node of a JSON tree (the root excluded)."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, child in items:
        yield (*prefix, key)
        if isinstance(child, dict | list):
            yield from _paths(child, (*prefix, key))


def _show(value: Any) -> str:
    """A short repr for the mutation log."""
    deep = _DEEP.fullmatch(json.dumps(value)) if isinstance(value, str) else None
    text = f"[{{'k': ...}}] nested {deep[1]} deep" if deep else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def mutate_json(tree: Any, rng: random.Random, log: list[str]) -> Any:
    """One random edit of a JSON tree (in place where possible); returns the new tree."""
    paths = list(_paths(tree)) if isinstance(tree, dict | list) else []
    if not paths:
        tree = _junk(rng)
        log.append(f"whole document = {_show(tree)}")
        return tree
    path = rng.choice(paths)
    parent = tree
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    value = parent[key]
    where = "/".join(str(part) for part in path)
    kind = rng.randrange(6)
    if kind == 0:
        del parent[key]
        log.append(f"{where}: deleted")
        return tree
    if kind == 1:  # junk of any type
        parent[key] = _junk(rng)
    elif kind == 2 and isinstance(value, int | float) and not isinstance(value, bool):
        parent[key] = rng.choice((-value, value * 10**6, value + 1, value - 1, str(value), 0))
    elif kind == 3 and isinstance(value, list):  # shrink or grow a list
        if value and rng.random() < 0.5:
            del value[rng.randrange(len(value))]
        else:
            value.append(value[0] if value and rng.random() < 0.5 else _junk(rng))
    elif kind == 4 and isinstance(parent, dict):  # an unknown key beside this one
        key = rng.choice(("extra", "window", "ids", "steps", str(key) + "_"))
        where = "/".join(str(part) for part in (*path[:-1], key))
        parent[key] = _junk(rng)
    else:  # change the type
        parent[key] = str(value) if not isinstance(value, str) else rng.choice((1, None, [value]))
    log.append(f"{where} = {_show(parent[key])}")
    return tree


def _mutate_config(file: Path, rng: random.Random, log: list[str]) -> None:
    text = file.read_bytes()
    tree = None
    if rng.random() < 0.75:
        with contextlib.suppress(ValueError, RecursionError):  # already broken: edit bytes
            tree = json.loads(text)
    if tree is not None:
        for _ in range(rng.choice((1, 1, 2, 3))):
            log.append("config.json: ")
            tree = mutate_json(tree, rng, log)
            log[-2:] = [log[-2] + log[-1]]
        text = _dumps(tree, indent=rng.choice((None, 2)))
    else:  # bytes: invalid UTF-8, BOM, flips, truncation
        log.append("config.json: byte-level edits")
        for _ in range(rng.choice((1, 2))):
            text = _mutate_bytes(text, rng, [])
    file.write_bytes(text)


_DTYPES = ("F64", "F32", "F16", "BF16", "I64", "I32", "I8", "U8", "BOOL", "F8_E4M3", "X")


def _mutate_header(data: bytes, rng: random.Random, log: list[str]) -> bytes:
    """Edit the JSON header of a safetensors file (dtypes, shapes, offsets, entries)."""
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    names = [k for k in header if k != "__metadata__"]
    name = rng.choice(names)
    kind = rng.randrange(6)
    if kind == 0:
        header[name]["dtype"] = rng.choice(_DTYPES)
    elif kind == 1:
        shape = header[name]["shape"]
        header[name]["shape"] = rng.choice(([], [0], [*shape, 1], shape[::-1], [2**40], [-1]))
    elif kind == 2:
        start, end = header[name]["data_offsets"]
        header[name]["data_offsets"] = rng.choice(
            ([end, start], [start, end + 8], [0, 0], [start, 2**62], [start + 1, end + 1])
        )
    elif kind == 3:
        del header[name]
    elif kind == 4:
        header[name + rng.choice(("x", "_", ""))] = header.pop(name)
    else:
        header = mutate_json(header, rng, log)
    log.append(f"weights header: {kind=} on {name}: {_show(header.get(name, 'deleted'))}")
    encoded = _dumps(header)
    if rng.random() < 0.2:  # a header length that lies
        claimed = rng.choice((0, 7, length, 2**63, len(data)))
        log.append(f"weights header length field = {claimed}")
        return struct.pack("<Q", claimed) + encoded
    return struct.pack("<Q", len(encoded)) + encoded + data[8 + length :]


def _mutate_tensors(file: Path, rng: random.Random, log: list[str]) -> None:
    """Rewrite a valid safetensors file with one tensor's values, shape or dtype changed."""
    import torch
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(file))
    name = rng.choice(sorted(tensors))
    value = tensors[name]
    kind = rng.randrange(7)
    if kind == 0:  # special values
        special = rng.choice((float("nan"), float("inf"), -1.0, 0.0, 1e30, -(2.0**62), 2.0**62))
        value = value.clone()
        if value.numel():
            value.view(-1)[rng.randrange(value.numel())] = special
    elif kind == 1:  # wrong shape
        flat = value.reshape(-1)
        value = rng.choice((flat, flat[: len(flat) // 2], torch.cat([flat, flat]), flat[:0]))
        value = value.clone()
    elif kind == 2:  # wrong dtype
        dtype = rng.choice((torch.float16, torch.float32, torch.float64, torch.int64, torch.bool))
        value = value.to(dtype)
    elif kind == 3:  # missing
        del tensors[name]
        value = None
    elif kind == 4:  # random integers (series starts and times read as indices)
        value = torch.tensor([rng.randint(-5, 100) for _ in range(value.numel())]).reshape(
            value.shape
        )
    elif kind == 5:  # a scalar
        value = torch.tensor(rng.choice((0, 1, -1, 2**40)))
    else:  # an extra tensor
        tensors[name + ".extra"] = torch.zeros(3)
    if value is not None:
        tensors[name] = value.contiguous()
    log.append(f"tensor {name}: {kind=} -> {_show(tensors.get(name, 'deleted'))}")
    save_file(tensors, str(file))


_WEIGHT_EDITS = (
    *("bit flips", "truncated", "header", "random bytes", "a pickle", "", "swapped"),
    "the twin's (same shape)",
)
TWIN_SWAP = 7


def _mutate_weights(
    file: Path,
    rng: random.Random,
    seeds: dict[str, Path],
    marker: Path,
    log: list[str],
    twin: Path,
) -> int:
    """One edit of ``file``; returns its kind (an index of ``_WEIGHT_EDITS``)."""
    data = file.read_bytes()
    kind = rng.randrange(8) if data else 3  # an emptied file can only be replaced
    if kind not in (2, 5):  # those two log their own edits
        log.append(f"weights.safetensors: {_WEIGHT_EDITS[kind]}")
    if kind == 0:  # bit flips anywhere
        for _ in range(rng.choice((1, 1, 4, 32))):
            i = rng.randrange(len(data))
            data = data[:i] + bytes([data[i] ^ (1 << rng.randrange(8))]) + data[i + 1 :]
    elif kind == 1:  # truncation
        data = data[: rng.randrange(len(data))]
    elif kind == 2:
        try:
            data = _mutate_header(data, rng, log)
        except (ValueError, LookupError, TypeError, AttributeError, struct.error, RecursionError):
            data = _mutate_bytes(data, rng, [])  # the header was already broken
    elif kind == 3:
        data = rng.randbytes(rng.choice((0, 1, 8, 100, len(data))))
    elif kind == 4:  # a pickle, plain or as torch.save would write it
        payload = {"network.0.head.weight": PickleCanary(str(marker))}
        if rng.random() < 0.5:
            data = pickle.dumps(payload, protocol=2)
        else:
            import torch

            buffer = io.BytesIO()
            torch.save(payload, buffer)
            data = buffer.getvalue()
    elif kind == 5:
        try:
            _mutate_tensors(file, rng, log)
            return kind
        except Exception:  # already unreadable (an earlier mutation): edit the bytes instead
            data = _mutate_bytes(data, rng, [])
    elif kind == 6:  # any seed model's weights
        data = (rng.choice(list(seeds.values())) / "weights.safetensors").read_bytes()
    else:  # the twin's: the same tensors, other values; only the checksum tells them apart
        data = (twin / "weights.safetensors").read_bytes()
    file.write_bytes(data)
    return kind


def _sign(config_file: Path, weights: Path, rng: random.Random, log: list[str]) -> None:
    """Record the weights' new SHA-256 in the config, or remove the record (an older model)."""
    import lstmcast.modeldir
    from lstmcast.files import sha256

    try:
        config = json.loads(config_file.read_bytes())
        checksums = config[lstmcast.modeldir.CHECKSUMS]
        if not weights.is_file():
            return
        if rng.random() < 0.5:
            checksums[lstmcast.modeldir.WEIGHTS] = sha256(weights)
            log.append("config.json: checksum of the mutated weights recorded")
        else:
            del config[lstmcast.modeldir.CHECKSUMS]
            log.append("config.json: checksums removed (a model saved before them)")
    except (ValueError, RecursionError, LookupError, TypeError, OSError):  # already broken
        return
    config_file.write_bytes(_dumps(config, indent=2))


def _recorded_checksum_differs(case: Path) -> bool:
    """Whether ``case``'s config records a SHA-256 of its weights that the file does not have."""
    import lstmcast.modeldir
    from lstmcast.files import sha256

    try:
        config = json.loads((case / "config.json").read_bytes())
        recorded = config[lstmcast.modeldir.CHECKSUMS][lstmcast.modeldir.WEIGHTS]
        weights = case / lstmcast.modeldir.WEIGHTS
        return isinstance(recorded, str) and weights.is_file() and sha256(weights) != recorded
    except (ValueError, RecursionError, LookupError, TypeError, OSError):
        return False


def _model_case(
    rng: random.Random, work: Path, number: int, seeds: dict[str, Path]
) -> tuple[Callable[[], None], list[Path], list[str]]:
    """A mutated model directory and the check to run on it."""
    import lstmcast as lc

    seed = rng.choice(sorted(name for name in seeds if TWIN.format(name) in seeds))
    case = work / f"model-{number}"
    shutil.copytree(seeds[seed], case)
    marker = work / f"pickle-ran-{number}"
    log = [f"load(path).predict(3) on a mutant of the {seed!r} seed model"]
    weights_edits = []
    for _ in range(rng.choice((1, 1, 1, 2))):
        roll = rng.random()
        if roll < 0.5:
            _mutate_config(case / "config.json", rng, log)
        elif roll < 0.97:
            twin = seeds[TWIN.format(seed)]
            kind = _mutate_weights(case / "weights.safetensors", rng, seeds, marker, log, twin)
            weights_edits.append(kind)
        else:  # a file missing or a directory in its place; nothing left to mutate after it
            victim = case / rng.choice(("config.json", "weights.safetensors"))
            victim.unlink()
            if rng.random() < 0.5:
                victim.mkdir()
            log.append(f"{victim.name}: removed")
            break
    if weights_edits and TWIN_SWAP not in weights_edits and rng.random() < 0.75:
        _sign(case / "config.json", case / "weights.safetensors", rng, log)
    misrecorded = _recorded_checksum_differs(case)

    def check() -> None:
        try:
            model = lc.load(case)
            forecast = model.predict(3)
        finally:
            if marker.exists():
                raise _BrokenContractError("pickle ran", "loading ran code from a pickle payload")
        if misrecorded:
            raise _BrokenContractError(
                "invalid result",
                "accepted weights whose SHA-256 is not the one config.json records",
                "; ".join(log),
            )
        expected = 3 * len(model.tail_)
        if len(forecast) != expected or list(forecast.columns) != ["unique_id", "ds", "LSTM"]:
            raise _BrokenContractError(
                "invalid result",
                "predict(3) gave a frame of the wrong shape",
                f"{len(forecast)} rows, columns {list(forecast.columns)}; expected {expected} "
                "rows of unique_id, ds, LSTM",
            )
        if not np.isfinite(forecast["LSTM"].to_numpy(dtype=np.float64)).all():
            raise _OddResultError("accepted, but predict(3) gave non-finite forecasts")

    return check, [case], log


# ---------------------------------------------------------------------------------------------
# The loop
# ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the block with :class:`_Hang` after ``seconds`` (main thread, Unix only)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "setitimer"
    ):
        yield
        return

    def alarm(signum: int, frame: Any) -> None:
        raise _Hang

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _memory_cap(budget: int) -> Iterator[None]:
    """Cap the address space at its current size plus ``budget`` bytes (Linux), then restore."""
    try:
        import resource

        pages = int(Path("/proc/self/statm").read_text().split()[0])
        current = pages * resource.getpagesize()
    except (ImportError, OSError, ValueError):
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = current + budget
    for limit in (soft, hard):  # never loosen an existing limit
        if limit != resource.RLIM_INFINITY:
            cap = min(cap, limit)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _signature(kind: str, error: BaseException) -> str:
    """Kind, exception type and the innermost frame in lstmcast (else the innermost one)."""
    import lstmcast

    package = str(Path(lstmcast.__file__).parent)
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if f.filename.startswith(package)]
    frame = (ours or frames or [None])[-1]
    where = f" at {Path(frame.filename).name}:{frame.lineno} ({frame.name})" if frame else ""
    return f"{kind}: {type(error).__name__}{where}"


def _save(finding: Finding, inputs: list[Path], log: list[str], out: Path) -> Path:
    folder = out / f"{finding.target}-{finding.number:06d}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for item in inputs:
        if item.is_dir():
            shutil.copytree(item, folder / item.name)
        elif item.exists():
            shutil.copy2(item, folder / item.name)
    mutations = "\n".join(f"  {line}" for line in log)
    (folder / "finding.txt").write_text(
        f"{finding.signature}\n{finding.summary}\n\ninput:\n{mutations}\n\n{finding.details}\n"
    )
    return folder


def _fuzz_target(
    target: str,
    seconds: float,
    seed: int,
    out: Path | None,
    max_inputs: int | None,
    timeout: float,
    work: Path,
) -> TargetStats:
    import lstmcast as lc

    stats = TargetStats(target)
    rng = random.Random(f"{seed}-{target}")  # a string seed is stable across runs and versions
    seeds = train_seed_models(work / "seeds") if target == "model" else {}
    saved_per_signature: Counter[str] = Counter()
    start = time.perf_counter()
    deadline = start + seconds
    with _memory_cap(MEMORY_BUDGET):
        while time.perf_counter() < deadline and (max_inputs is None or stats.tried < max_inputs):
            number = stats.tried
            if target == "csv":
                check, inputs, log = _csv_case(rng, work, number)
            else:
                check, inputs, log = _model_case(rng, work, number, seeds)
            stats.tried += 1
            finding = None
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    with _time_limit(timeout):
                        check()
                except lc.LstmcastError:
                    stats.lstmcast_errors += 1
                except _OddResultError as odd:
                    stats.accepted += 1
                    stats.notes[str(odd)] += 1
                except _BrokenContractError as invalid:
                    signature = f"{invalid.kind}: {invalid.problem}"
                    finding = Finding(
                        target, number, invalid.kind, str(invalid), signature, str(invalid)
                    )
                except _Hang as hang:
                    finding = Finding(
                        target,
                        number,
                        "hang",
                        f"still running after {timeout} s",
                        _signature("hang", hang),
                        "".join(traceback.format_exception(hang)),
                    )
                except (Exception, RecursionError, MemoryError) as error:
                    message = str(error).strip().splitlines()
                    finding = Finding(
                        target,
                        number,
                        "exception",
                        f"{type(error).__name__}: {message[0] if message else ''}",
                        _signature("exception", error),
                        "".join(traceback.format_exception(error)),
                    )
                else:
                    stats.accepted += 1
            for warning in caught:
                text = str(warning.message).strip().splitlines()
                stats.warnings[f"{warning.category.__name__}: {text[0] if text else ''}"] += 1
            if finding is not None:
                stats.findings.append(finding)
                if out is not None and saved_per_signature[finding.signature] < (
                    SAVED_PER_SIGNATURE
                ):
                    saved_per_signature[finding.signature] += 1
                    finding.saved = _save(finding, inputs, log, out)
            for item in inputs:  # keep the work directory small
                if item.is_dir():
                    shutil.rmtree(item, ignore_errors=True)
                else:
                    item.unlink(missing_ok=True)
    stats.seconds = time.perf_counter() - start
    return stats


def run(
    seconds: float,
    *,
    seed: int = 0,
    target: str = "all",
    out: Path | None = DEFAULT_OUT,
    max_inputs: int | None = None,
    timeout: float = 3.0,
    echo: Callable[[str], None] | None = print,
) -> dict[str, TargetStats]:
    """Fuzz ``target`` ("csv", "model" or "all") for ``seconds`` in all; return the stats.

    ``max_inputs`` also caps the inputs per target (a fixed cap makes a run fully reproducible);
    findings are saved under ``out`` unless it is None; ``echo`` prints the report.
    """
    targets = TARGETS if target == "all" else (target,)
    if any(t not in TARGETS for t in targets):
        raise ValueError(f"target must be one of {', '.join(TARGETS)} or all, got {target!r}")
    results = {}
    with tempfile.TemporaryDirectory(prefix="lstmcast-fuzz-") as tmp:
        for name in targets:
            work = Path(tmp) / name
            work.mkdir()
            results[name] = _fuzz_target(
                name, seconds / len(targets), seed, out, max_inputs, timeout, work
            )
            if echo is not None:
                for line in results[name].report():
                    echo(line)
    if echo is not None:
        total = sum(len(stats.findings) for stats in results.values())
        echo(f"total findings: {total}" + (f" (inputs saved under {out})" if total and out else ""))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="time for the fuzz loops")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--target", choices=(*TARGETS, "all"), default="all")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where findings are saved")
    parser.add_argument("--max-inputs", type=int, default=None, help="cap on inputs per target")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds before a hang")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)  # tiny models; the fuzzer must not crowd a shared machine
    print(f"lstmcast fuzz: target {args.target}, seed {args.seed}, {args.seconds:g} s")
    results = run(
        args.seconds,
        seed=args.seed,
        target=args.target,
        out=args.out,
        max_inputs=args.max_inputs,
        timeout=args.timeout,
    )
    return 1 if any(stats.findings for stats in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())

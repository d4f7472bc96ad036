"""What a benchmark records about the machine beside its figures: CPU, vector units, load.

Standard library only, so that a parent process that runs the work in children (benchmarks/
defaults.py) and the torch-heavy scripts (benchmarks/scale.py) share it without importing torch.
The machines are shared: a figure without the load it was measured under cannot be compared.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
# The flags that decide how fast torch's CPU kernels can be (vector width, bfloat16, AMX).
_VECTOR_FLAG = re.compile(r"^(avx|amx|fma|sse4)")


def load_average() -> str:
    """``uptime``'s three load averages (1, 5 and 15 minutes), e.g. ``"1.45, 1.00, 1.31"``."""
    return "{:.2f}, {:.2f}, {:.2f}".format(*os.getloadavg())


def cpu_description(cpuinfo: Path = CPUINFO) -> str:
    """The CPU's model name, core count and vector flags, e.g. ``"AMD EPYC, 2 CPUs, avx2 ..."``.

    Read from ``/proc/cpuinfo`` (Linux); elsewhere the platform's processor name only.
    """
    cpus = f"{os.cpu_count()} CPUs"
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"{platform.processor() or platform.machine()}, {cpus}"
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() not in fields:  # the first processor's entry
            fields[key.strip()] = value.strip()
    flags = [flag for flag in fields.get("flags", "").split() if _VECTOR_FLAG.match(flag)]
    name = fields.get("model name", platform.machine())
    return f"{name}, {cpus}, flags: {' '.join(flags) or 'none of avx/amx/fma/sse4'}"


def git_commit(repo: Path) -> str:
    """``git describe --always --dirty`` of ``repo``: the commit a figure was measured at."""
    described = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=repo, capture_output=True, text=True
    )
    return described.stdout.strip() or "?"


def measured_on(load_before: str) -> str:
    """Where a figure just measured comes from: this repository's commit, the CPU and the load
    before (``load_before``, from :func:`load_average`) and now."""
    repo = Path(__file__).resolve().parent.parent
    return (
        f"commit {git_commit(repo)}; {cpu_description()}; "
        f"load {load_before} before, {load_average()} after"
    )


def run_options(argv: Sequence[str] | None, description: str, seed: str) -> argparse.Namespace:
    """A benchmark's options: ``--smoke``, ``--threads`` (pinned here for every training,
    whatever the load: ``lc.pin_threads``) and ``--seed`` (default 0; ``seed`` says what it
    draws)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--smoke", action="store_true", help="seconds: a few series, one epoch")
    parser.add_argument("--threads", type=int, help="torch threads")
    parser.add_argument("--seed", type=int, default=0, help=seed)
    args = parser.parse_args(argv)
    if args.threads:
        import lstmcast as lc

        lc.pin_threads(args.threads)
    return args


def run_header(title: str, repo: Path, seed: int, threads: int | None) -> str:
    """The lines a benchmark prints before its figures: what it measures, the commit of
    ``repo``, the seed, the CPU, torch's threads and the load."""
    return (
        f"# {title}; commit {git_commit(repo)}; seed {seed}\n"
        f"# {cpu_description()}; threads {threads or 'torch default'}\n"
        f"# load before: {load_average()}"
    )

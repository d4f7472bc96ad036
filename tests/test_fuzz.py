"""benchmarks/fuzz.py keeps working: a short fixed-seed run per target, about a second each."""

from __future__ import annotations

import pytest

from benchmarks import fuzz

# A cap on inputs rather than on time, so the run is the same on any machine; the time bound
# is only a backstop.
CAPS = {"csv": 400, "model": 100}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, fuzz.TargetStats]:
    out = tmp_path_factory.mktemp("fuzz")
    stats = {}
    for target, cap in CAPS.items():
        run = fuzz.run(60, seed=0, target=target, max_inputs=cap, out=out, timeout=2, echo=None)
        stats[target] = run[target]
    return stats


@pytest.mark.parametrize("target", list(CAPS))
def test_fuzzer_runs_every_input_to_an_outcome(
    results: dict[str, fuzz.TargetStats], target: str
) -> None:
    stats = results[target]
    assert stats.tried == CAPS[target]
    assert stats.tried == stats.lstmcast_errors + stats.accepted + len(stats.findings)
    # The mutants are neither all refused nor all accepted: both paths are exercised.
    assert stats.lstmcast_errors > 0
    assert stats.accepted > 0
    assert stats.report()[0].startswith(f"{target}: {stats.tried} inputs")


# The model run hits library bugs reported with benchmarks/fuzz.py (load trusts config.json and
# the tensors: TypeError, KeyError, IndexError, RecursionError... instead of ModelFileError).
# strict: drop the marker once they are fixed.


@pytest.mark.parametrize("target", ["csv", "model"])
def test_fuzzer_finds_nothing(results: dict[str, fuzz.TargetStats], target: str) -> None:
    stats = results[target]
    assert not stats.findings, "\n".join(stats.report())

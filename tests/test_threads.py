"""Training threads follow the idle cores unless pinned (lstmcast.threads)."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
import torch

import lstmcast as lc
from lstmcast import threads
from lstmcast.threads import Sample


@pytest.fixture
def two_threads(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """torch at 2 threads on 2 usable cores, unpinned, whatever the test machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "_AT_IMPORT", 2)
    monkeypatch.setattr(threads, "_pinned", None)
    monkeypatch.setattr(threads, "usable_cores", lambda: {0, 1})
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize(
    ("busy", "cores", "expected"),
    [(0.0, 2, 2), (0.4, 2, 2), (0.6, 2, 1), (1.0, 2, 1), (1.3, 2, 1), (3.0, 2, 1), (2.2, 8, 6)],
)
def test_one_thread_per_idle_core(busy: float, cores: int, expected: int) -> None:
    assert threads.idle_threads(busy, cores) == expected


def test_others_busy_leaves_out_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Over 1 s on 2 CPUs (200 ticks), 150 busy ticks of which this process used 0.5 s: others
    kept one core busy."""
    monkeypatch.setattr(threads, "usable_cores", lambda: {0, 1})
    start = Sample(busy_ticks=1000, total_ticks=5000, own_seconds=10.0, wall=100.0)
    end = Sample(busy_ticks=1150, total_ticks=5200, own_seconds=10.5, wall=101.0)
    assert start.others_busy(end) == pytest.approx(1.0)
    assert start.others_busy(start) == 0.0


def test_a_sample_reads_this_machines_counters() -> None:
    sample = Sample.now()
    if sample is None:
        pytest.skip("no /proc/stat here")
    assert 0 <= sample.busy_ticks <= sample.total_ticks
    assert threads.others_busy() >= 0.0


def test_a_busy_core_trains_with_one_thread_then_restores(
    two_threads: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(threads, "others_busy", lambda: 1.0)
    with threads.for_training() as used:
        assert used == 1
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    monkeypatch.setattr(threads, "others_busy", lambda: 0.0)
    with threads.for_training() as used:
        assert used == 2


@pytest.mark.parametrize("how", ["pin_threads", "environment", "torch"])
def test_a_pinned_count_is_kept_under_load(
    two_threads: None, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    monkeypatch.setattr(threads, "others_busy", lambda: 1.0)
    if how == "pin_threads":
        lc.pin_threads(2)
    elif how == "environment":
        monkeypatch.setenv("OMP_NUM_THREADS", "2")
    else:  # the caller set torch's count after importing lstmcast
        monkeypatch.setattr(threads, "_AT_IMPORT", 4)
    with threads.for_training() as used:
        assert used == 2
    lc.pin_threads(None)
    with pytest.raises(ValueError, match="at least 1"):
        lc.pin_threads(0)


def test_history_records_the_threads_each_member_trained_with(
    two_threads: None, monkeypatch: pytest.MonkeyPatch, two_series: pd.DataFrame
) -> None:
    monkeypatch.setattr(threads, "others_busy", lambda: 1.0)
    model = lc.LSTMForecaster(
        recipe="tutorial", window=12, hidden_size=4, epochs=1, ensemble_size=2, random_state=0
    ).fit(two_series)
    assert [history.threads for history in model.histories_] == [1, 1]
    assert torch.get_num_threads() == 2


def test_a_benchmarks_threads_option_pins_the_count(
    two_threads: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--threads 2`` on 2 cores is torch's own count: only pinning keeps it under load."""
    from benchmarks.machine import run_options

    monkeypatch.setattr(threads, "others_busy", lambda: 1.0)
    run_options(["--threads", "2"], "a benchmark", "what the seed draws")
    try:
        with threads.for_training() as used:
            assert used == 2
    finally:
        lc.pin_threads(None)

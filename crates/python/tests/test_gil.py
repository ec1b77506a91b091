"""The GIL is released while simulations run: another Python thread keeps running."""

from __future__ import annotations

import signal
import sys
import threading
import time
from typing import Callable, Iterator

import pytest

import xinyong


class Counter:
    """A Python thread that counts, sleeping a little between counts.

    Each count needs the GIL. With a very long switch interval, a thread that holds the
    GIL is never asked to give it up, so the counter can only advance while the main
    thread is blocked *and has released the GIL*; `time.sleep` always releases it, so the
    counter never keeps the GIL from the main thread either."""

    def __init__(self) -> None:
        self.count = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self.stop.is_set():
            self.count += 1
            time.sleep(0.0005)

    def during(self, work: Callable[[], object]) -> int:
        """How many times the counter advanced while `work()` ran."""
        before = self.count
        work()
        return self.count - before


@pytest.fixture
def counter() -> Iterator[Counter]:
    interval = sys.getswitchinterval()
    sys.setswitchinterval(100.0)
    c = Counter()
    c.thread.start()
    try:
        # Let the counter start before measuring.
        while c.count < 3:
            time.sleep(0.01)
        yield c
    finally:
        c.stop.set()
        c.thread.join()
        sys.setswitchinterval(interval)


# A run that takes a good fraction of a second even in a release build.
BIG = {"citizens": 20_000, "days": 40}


def test_a_second_thread_progresses_during_simulate(counter: Counter) -> None:
    advanced = counter.during(lambda: xinyong.simulate("default", seed=1, progress=False, **BIG))
    # Holding the GIL, the counter could advance at most once or twice (at the call's
    # edges); releasing it, it advances every half millisecond of the run.
    assert advanced > 20, f"the counter advanced {advanced} times during the run"


def test_a_second_thread_progresses_during_compare(counter: Counter) -> None:
    advanced = counter.during(
        lambda: xinyong.compare("default", "no-keep-penalty", seeds=2, progress=False, citizens=8_000, days=40)
    )
    assert advanced > 20, f"the counter advanced {advanced} times during the comparison"


def test_the_check_can_fail_a_function_that_keeps_the_gil(counter: Counter) -> None:
    """The same measurement around pure-Python busy work (which never releases the GIL)
    stays near zero: the test above would catch a run that kept the GIL."""

    def busy() -> None:
        end = time.perf_counter() + 0.3
        while time.perf_counter() < end:
            pass

    assert counter.during(busy) <= 2


def test_ctrl_c_stops_a_run_between_two_days() -> None:
    """KeyboardInterrupt (Ctrl-C, Jupyter's interrupt) reaches a run in progress."""
    import _thread

    started = threading.Event()
    days_done: list[int] = []

    def progress(done: int, total: int) -> None:
        days_done.append(done)
        started.set()

    def interrupt() -> None:
        started.wait()
        _thread.interrupt_main()

    # Python handles Ctrl-C only where SIGINT was not ignored when it started (a shell's
    # background job ignores it, and `interrupt_main` then does nothing): handled here.
    handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Thread(target=interrupt, daemon=True).start()
        days = 30_000  # long enough that the interrupt always comes before the end
        with pytest.raises(KeyboardInterrupt):
            xinyong.simulate("default", seed=1, citizens=600, days=days, progress=progress)
    finally:
        signal.signal(signal.SIGINT, handler)
    assert 0 < len(days_done) < days, "the run stopped early"

"""One way to time a piece of work for the benchmarks that run pure code in process
(market.py, analytics.py, projection.py)."""

import statistics
import time
from collections.abc import Callable
from typing import Any


def timed(work: Callable[[], Any], repeat: int) -> tuple[float, float, float, Any]:
    """Median and best wall time and median CPU time in ms over `repeat` runs, and the
    last run's answer.

    CPU time is printed beside the wall time because the machine may be shared: under
    other load the wall time grows, the process's own CPU time much less. Each run's answer
    is dropped before the next starts, so the garbage collector does not walk the previous
    one (a server answering one request would not).
    """
    wall, cpu = [], []
    answer = None
    for _ in range(repeat):
        answer = None
        started, used = time.perf_counter(), time.process_time()
        answer = work()
        cpu.append((time.process_time() - used) * 1000)
        wall.append((time.perf_counter() - started) * 1000)
    return statistics.median(wall), min(wall), statistics.median(cpu), answer

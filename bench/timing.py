"""One way to time a piece of work for the benchmarks that run code in process, and one
way to print what they measured (market.py, analytics.py, projection.py, replay.py,
news.py, options.py)."""

import statistics
import time
from collections.abc import Callable, Iterable
from typing import Any

# measure, wall median, wall best, CPU median (ms), the answer, the target and its verdict
Row = tuple[str, float, float, float, str, str]


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


def print_rows(heading: str, rows: Iterable[Row]) -> None:
    """The run's conditions (`heading`: sizes, repeats, load average), then one line a
    measure in the README's table order."""
    print(heading)
    print("measure | wall median | wall best | CPU median | answer | target (DESIGN §7, wall)")
    for name, median, best, cpu, answer, target in rows:
        print(f"{name} | {median:.1f} ms | {best:.1f} ms | {cpu:.1f} ms | {answer} | {target}")

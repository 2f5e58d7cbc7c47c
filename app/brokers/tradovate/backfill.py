"""Bar history for each symbol Tradovate market data subscribes, asked once per process.

The first subscription of a symbol in this process asks the market-data socket for the
last day of 1-minute bars and the last year of daily bars (`md/getChart`) and hands them
to the services through `app.brokers.listeners.bars`, which store them as the broker's
bars. The chart request blocks its caller until the end of history, so it runs in a
worker thread of its own: the socket's thread keeps reading quotes meanwhile, and no
order ever waits on history. A failure (the socket down, a refusal, a write that failed)
is logged once and forgotten, so the symbol's next subscription asks again; it never
reaches trading.
"""

import logging
import queue
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from app.brokers import listeners
from app.brokers.errors import BrokerError
from app.domain.bars import Bar
from app.domain.vocabulary import Timeframe

logger = logging.getLogger(__name__)

# (underlying type, our timeframe, how far back): what each symbol is backfilled with.
HISTORY = (
    ("MinuteBar", Timeframe.M1, timedelta(days=1)),
    ("DailyBar", Timeframe.D1, timedelta(days=365)),
)

ChartReader = Callable[..., list[Bar]]  # MarketDataClient.get_chart
BarsSink = Callable[[str, Timeframe, list[Bar]], None]


class Backfill:
    """Reads each symbol's history once, one symbol after another, in a daemon thread."""

    def __init__(
        self,
        get_chart: ChartReader,
        *,
        on_bars: BarsSink = listeners.bars,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._get_chart = get_chart
        self._on_bars = on_bars
        self._now = now
        self._lock = threading.Lock()
        self._asked: set[str] = set()  # queued, being read, or read
        self._jobs: queue.SimpleQueue[tuple[str, int] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def request(self, symbol: str, contract_id: int) -> None:
        """Read `symbol`'s history unless this process already has (or is reading) it."""
        with self._lock:
            if self._stopped or symbol in self._asked:
                return
            self._asked.add(symbol)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="tradovate-history", daemon=True
                )
                self._thread.start()
        self._jobs.put((symbol, contract_id))

    def stop(self) -> None:
        """End the thread after the read in progress, whose bars are then dropped."""
        with self._lock:
            self._stopped = True
        self._jobs.put(None)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            symbol, contract_id = job
            try:
                self._read(symbol, contract_id)
            except BrokerError as exc:
                self._forget(symbol)
                logger.warning(
                    "market data: no bar history for %s (%s); asked again at its next subscription",
                    symbol,
                    exc.message,
                )
            except Exception:
                self._forget(symbol)
                logger.exception(
                    "market data: the bar history of %s was not kept; asked again at its next "
                    "subscription",
                    symbol,
                )

    def _read(self, symbol: str, contract_id: int) -> None:
        now = self._now()
        for underlying, timeframe, back in HISTORY:
            found = self._get_chart(contract_id, underlying, as_far_as_timestamp=now - back)
            with self._lock:
                if self._stopped:
                    return
            self._on_bars(symbol, timeframe, found)
            logger.info(
                "market data: %s %s bars of %s history from Tradovate",
                len(found),
                timeframe.value,
                symbol,
            )

    def _forget(self, symbol: str) -> None:
        with self._lock:
            self._asked.discard(symbol)

"""Configuration read from the environment (DESIGN §5.1), with a test variant."""

import os
import re
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("DESKPILOT_INSTANCE_DIR", BASE_DIR / "instance"))


def _flag(name: str, default: str) -> bool:
    return os.environ.get(name, default).strip().lower() in {"1", "true", "yes", "on"}


def _count(name: str, default: str) -> int:
    """A whole number 0 or more; anything else stops the start with the variable's name,
    since a wrong proxy count would trust forged client addresses or distrust real ones."""
    raw = os.environ.get(name, default).strip()
    if not re.fullmatch(r"[0-9]+", raw):
        raise ValueError(f"{name} must be a whole number 0 or more, not {raw!r}")
    return int(raw)


def _database_url() -> str:
    """Return DATABASE_URL; the SQLite default lives in instance/ whatever the cwd."""
    return os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE_DIR / 'deskpilot.db'}"


class Config:
    """Production settings. Secrets left unset are generated once into instance/."""

    INSTANCE_DIR = INSTANCE_DIR
    DATABASE_URL = _database_url()
    SECRET_KEY = os.environ.get("SECRET_KEY")
    ENCRYPTION_KEY = os.environ.get("ENCRYPTION_KEY")
    ADMIN_USERNAME = os.environ.get("ADMIN_USERNAME", "admin")
    ADMIN_PASSWORD = os.environ.get("ADMIN_PASSWORD")
    # A fresh install gets a paper account so the trader can try everything at once.
    SEED_PAPER_ACCOUNT = True
    PAPER_STARTING_BALANCE = "50000.00"
    HOST = os.environ.get("HOST", "127.0.0.1")
    PORT = int(os.environ.get("PORT", "5000"))
    WEB_THREADS = int(os.environ.get("WEB_THREADS", "32"))  # request threads of `run.py serve`
    PUBLIC_URL = os.environ.get("PUBLIC_URL")
    REDIS_URL = os.environ.get("REDIS_URL")
    MONITOR_INTERVAL_SECONDS = float(os.environ.get("MONITOR_INTERVAL_SECONDS", "5"))
    # The least time between two modifications of one broker stop by the monitor (Tradovate
    # counts every modifyorder against the account's hourly budget and answers a burst with
    # penalty tickets). 2 s costs nothing at the default 5 s tick and halves the requests of
    # a trail ticked every second; the trail keeps its best price meanwhile and the stop
    # catches up at the next modification.
    STOP_MODIFY_MIN_SECONDS = float(os.environ.get("STOP_MODIFY_MIN_SECONDS", "2"))
    # The kill switch re-reads the broker after flattening and flattens again what it still
    # shows: this many passes in all, this many seconds apart, before it reports what is
    # still open (a failed liquidation is retried; a closing order is given time to fill).
    KILL_SWITCH_ROUNDS = int(os.environ.get("KILL_SWITCH_ROUNDS", "3"))
    KILL_SWITCH_RETRY_SECONDS = float(os.environ.get("KILL_SWITCH_RETRY_SECONDS", "1"))
    # The scheduler's shared leader lease (Redis or PostgreSQL): lost this long after the
    # leader stops renewing it; renewed every third of it.
    LEADER_LEASE_SECONDS = float(os.environ.get("LEADER_LEASE_SECONDS", "15"))
    POLL_INTERVAL_SECONDS = float(os.environ.get("POLL_INTERVAL_SECONDS", "5"))
    # How often the scheduler fetches the economic calendar at the `calendar_url` setting.
    CALENDAR_FETCH_MINUTES = float(os.environ.get("CALENDAR_FETCH_MINUTES", "60"))
    # How often the scheduler fetches the news sources, and how long one may take to answer.
    NEWS_FETCH_MINUTES = float(os.environ.get("NEWS_FETCH_MINUTES", "15"))
    NEWS_FETCH_TIMEOUT_SECONDS = float(os.environ.get("NEWS_FETCH_TIMEOUT_SECONDS", "10"))
    PAPER_FEED = os.environ.get("PAPER_FEED", "simulated")
    PAPER_TICK_SECONDS = float(os.environ.get("PAPER_TICK_SECONDS", "1"))
    PAPER_FEED_SEED = int(os.environ.get("PAPER_FEED_SEED", "7"))
    PAPER_SLIPPAGE_TICKS = int(os.environ.get("PAPER_SLIPPAGE_TICKS", "0"))
    PAPER_COMMISSION_PER_CONTRACT = os.environ.get("PAPER_COMMISSION_PER_CONTRACT", "0")
    PAPER_MAX_FILL_PER_PRINT = os.environ.get("PAPER_MAX_FILL_PER_PRINT", "0")
    # Tradovate accounts refuse entries outside the CME session and in Tradovate's
    # maintenance unless their own `session_guard` says otherwise ("0": opt-in instead).
    SESSION_GUARD_TRADOVATE = os.environ.get("SESSION_GUARD_TRADOVATE", "1") != "0"
    TRADOVATE_API_URL = os.environ.get("TRADOVATE_API_URL")
    TRADOVATE_MD_URL = os.environ.get("TRADOVATE_MD_URL")
    TRADOVATE_STALE_SECONDS = float(os.environ.get("TRADOVATE_STALE_SECONDS", "15"))
    # Tradovate's user-data socket (`user/syncrequest`) tells the position poller when an
    # account changed, so it reads the account over REST only then ("0": read every tick).
    # Silent this long (no event, no heartbeat), the socket no longer vouches and the
    # account is read every tick again; and it is read in full at least every
    # STREAMED_FULL_POLL_SECONDS whatever the socket says.
    TRADOVATE_USER_SYNC = _flag("TRADOVATE_USER_SYNC", "1")
    TRADOVATE_SYNC_STALE_SECONDS = float(os.environ.get("TRADOVATE_SYNC_STALE_SECONDS", "7.5"))
    STREAMED_FULL_POLL_SECONDS = float(os.environ.get("STREAMED_FULL_POLL_SECONDS", "300"))
    # A held symbol without a quote this long inside its session is told as a quiet feed
    # (silence watchdog): quotes (bid/ask) move every few seconds even when nothing trades.
    MARKET_DATA_QUIET_SECONDS = float(os.environ.get("MARKET_DATA_QUIET_SECONDS", "120"))
    DISCORD_BOT_TOKEN = os.environ.get("DISCORD_BOT_TOKEN")
    DISCORD_API_BASE = os.environ.get("DISCORD_API_BASE", "https://discord.com/api/v10")
    DISCORD_CLIENT_ID = os.environ.get("DISCORD_CLIENT_ID")
    DISCORD_CLIENT_SECRET = os.environ.get("DISCORD_CLIENT_SECRET")
    # OAuth2 "identify" links the owner's Discord id; the identity is read from
    # DISCORD_API_BASE's /users/@me.
    DISCORD_OAUTH_AUTHORIZE_URL = os.environ.get(
        "DISCORD_OAUTH_AUTHORIZE_URL", "https://discord.com/oauth2/authorize"
    )
    DISCORD_OAUTH_TOKEN_URL = os.environ.get(
        "DISCORD_OAUTH_TOKEN_URL", "https://discord.com/api/oauth2/token"
    )
    TEXTBELT_URL = os.environ.get("TEXTBELT_URL", "https://textbelt.com")
    # A CA file trusted besides the system's for the SMTP server's certificate (a private
    # CA); certificates are verified either way.
    SMTP_CA_FILE = os.environ.get("SMTP_CA_FILE") or None
    TRADINGVIEW_IP_ALLOWLIST = _flag("TRADINGVIEW_IP_ALLOWLIST", "off")
    # Reverse proxies in front that each append to X-Forwarded-For (app/__init__.py).
    TRUSTED_PROXIES = _count("TRUSTED_PROXIES", "0")
    SCHEDULER_ENABLED = _flag("SCHEDULER_ENABLED", "1")
    MAX_ORDER_QUANTITY = int(os.environ.get("MAX_ORDER_QUANTITY", "100"))
    WEBHOOK_RATE_LIMIT = os.environ.get("WEBHOOK_RATE_LIMIT", "120/minute")
    # Per caller of /api (API token, session, or address when neither is valid); `off`
    # disables it. Kept in Redis with REDIS_URL, so it holds across processes.
    API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "600/minute")
    # Bars (services/market/bars): how often each process writes its closed minutes, and
    # how many days of bars are kept (0: all).
    BAR_FLUSH_SECONDS = float(os.environ.get("BAR_FLUSH_SECONDS", "2"))
    BAR_RETENTION_DAYS = int(os.environ.get("BAR_RETENTION_DAYS", "730"))

    BCRYPT_ROUNDS = 12
    LOGIN_MAX_FAILURES = 5
    LOGIN_LOCK_MINUTES = 15
    LOGIN_RATE_LIMIT = "10/minute"
    # Idle timeout: the signed cookie's age is checked server-side and refreshed per request.
    PERMANENT_SESSION_LIFETIME = timedelta(minutes=30)
    SESSION_REFRESH_EACH_REQUEST = True
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "auto")  # see app/session.py
    SESSION_COOKIE_NAME = "deskpilot_session"
    REMEMBER_COOKIE_DURATION = timedelta(seconds=0)
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    WTF_CSRF_SSL_STRICT = False  # behind a TLS proxy the Referer check misfires
    MAX_CONTENT_LENGTH = 1024 * 1024
    # RATELIMIT_STORAGE_URI: Redis when REDIS_URL is set, else memory (create_app).
    RATELIMIT_HEADERS_ENABLED = True
    AUTO_MIGRATE = True


class TestConfig(Config):
    """Settings for the test suite: a throwaway database, fast hashing, no jobs."""

    TESTING = True
    DATABASE_URL = "sqlite://"
    SECRET_KEY = "test-secret-key"  # nosec B105 # the test suite's throwaway key
    ENCRYPTION_KEY = "B4AaAyZYRTkk-Y-Foozx4swH6YAv_pMpbBSKmh5NIHw="
    ADMIN_USERNAME = "owner"
    ADMIN_PASSWORD = "correct horse battery staple"  # nosec B105 # the test owner's
    SEED_PAPER_ACCOUNT = False
    BCRYPT_ROUNDS = 4
    SCHEDULER_ENABLED = False
    RATELIMIT_ENABLED = False
    SESSION_GUARD_TRADOVATE = False  # tests run at any hour; the guard's own tests set it
    STOP_MODIFY_MIN_SECONDS = 0.0  # tests tick back to back; the budget's own tests set it
    KILL_SWITCH_RETRY_SECONDS = 0.01
    BAR_FLUSH_SECONDS = 0  # no writer thread: tests flush bars themselves
    TRADOVATE_USER_SYNC = False  # tests read every tick; the socket's own tests turn it on

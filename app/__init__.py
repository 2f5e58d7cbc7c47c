"""DeskPilot: TradingView alerts in, protected futures orders out."""

import logging
import os
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path

from cryptography.fernet import Fernet
from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import make_url
from werkzeug.middleware.proxy_fix import ProxyFix

from app import redaction
from app.extensions import csrf, db, limiter, login_manager, socketio
from app.session import SessionInterface
from app.sqlite_writer import QueuedWriterConnection
from config import Config

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
SQLITE_BUSY_TIMEOUT_SECONDS = 15
JOB_THREADS = 10  # APScheduler's default executor runs jobs on up to this many threads


def create_app(config: type[Config] | Config | None = None) -> Flask:
    """Build the app in small named steps; the database is migrated before first use."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(Path((config or Config).INSTANCE_DIR).resolve()),
    )
    app.config.from_object(config or Config)
    _init_logging(app)
    _ensure_instance_secrets(app)
    _mask_server_secrets(app)
    _init_db(app)
    _init_extensions(app)
    _trust_proxies(app)
    _register_blueprints(app)
    if app.config["AUTO_MIGRATE"]:
        _prepare_database(app)
    _wire_prices(app)
    _wire_protections()
    _wire_live(app)
    _wire_notifications(app)
    _wire_metrics(app)
    _init_scheduler(app)
    return app


def _init_logging(app: Flask) -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    redaction.install()


SERVER_SECRETS = (
    "SECRET_KEY",
    "ENCRYPTION_KEY",
    "ADMIN_PASSWORD",
    "DISCORD_BOT_TOKEN",
    "DISCORD_CLIENT_SECRET",
)


def _mask_server_secrets(app: Flask) -> None:
    """The server's own keys never reach the log either (app.redaction)."""
    redaction.remember(*(app.config.get(name) for name in SERVER_SECRETS))


def _read_or_create_secret(path: Path, make) -> str:
    """Return the secret stored at `path`, creating it (mode 0600) on first use."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(value)
    logger.info("generated %s", path.name)
    return value


def _ensure_instance_secrets(app: Flask) -> None:
    instance = Path(app.instance_path)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _read_or_create_secret(
            instance / "secret_key", lambda: secrets.token_hex(32)
        )
    if not app.config.get("ENCRYPTION_KEY"):
        app.config["ENCRYPTION_KEY"] = _read_or_create_secret(
            instance / "encryption_key", lambda: Fernet.generate_key().decode()
        )
    if app.config["DATABASE_URL"].startswith("sqlite:///"):
        Path(app.config["DATABASE_URL"].removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )


def _init_db(app: Flask) -> None:
    """Bind `db` to DATABASE_URL; every SQLite connection gets its pragmas as it opens."""
    url = app.config["DATABASE_URL"]
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = _engine_options(url, app.config["WEB_THREADS"])
    db.init_app(app)
    if make_url(url).get_backend_name() == "sqlite":
        with app.app_context():
            event.listen(db.engine, "connect", _tune_sqlite)


def _engine_options(url: str, threads: int) -> dict:
    """A thread waits up to the busy timeout for SQLite's one writer instead of failing at
    once, queued behind this process's other writers (sqlite_writer); a pooled PostgreSQL
    connection is checked before it is handed out. The pool lends a connection to every
    thread that may hold a session at once."""
    address = make_url(url)
    if address.get_backend_name() == "sqlite":
        options = {
            "connect_args": {
                "timeout": SQLITE_BUSY_TIMEOUT_SECONDS,
                "check_same_thread": False,
                "factory": QueuedWriterConnection,
            }
        }
    else:
        options = {"pool_pre_ping": True}
    if address.database not in (None, "", ":memory:"):  # one shared connection otherwise
        options.update(_pool_for(threads))
    return options


def _pool_for(threads: int) -> dict:
    """Room for every request thread and job thread. A thread queued for an account's
    lock holds its session's connection; with fewer connections than such threads, the
    lock's holder can wait for a connection that only the threads queued behind it could
    give back — a deadlock ended by the pool's timeout, seen under a burst of alerts.
    The pool keeps them all once opened: a connection closed on its return is opened
    again for the next request, and a new SQLite connection reads the schema and warms
    its page cache again (eight senders went slower than one)."""
    return {"pool_size": threads + JOB_THREADS, "max_overflow": 0}


def _tune_sqlite(dbapi_connection, _record) -> None:
    """Foreign keys enforced; WAL so readers never wait for the writer; NORMAL sync,
    which WAL keeps consistent across a crash."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def rate_limit_storage(redis_url: str | None) -> str:
    """Limits are counted in Redis when there is one, so a limit holds across the processes
    of a scale-out (else each process would allow the whole limit)."""
    return redis_url or "memory://"


def _init_extensions(app: Flask) -> None:
    from app.services.setup.auth import load_session_user

    app.session_interface = SessionInterface()
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.session_protection = "basic"
    login_manager.user_loader(load_session_user)
    csrf.init_app(app)
    app.config.setdefault("RATELIMIT_STORAGE_URI", rate_limit_storage(app.config.get("REDIS_URL")))
    limiter.init_app(app)
    socketio.init_app(
        app,
        async_mode="threading",
        message_queue=app.config.get("REDIS_URL"),
        channel=socketio_channel(app.config["DATABASE_URL"]),
        # Only the page's own origin (Host, and X-Forwarded-Proto behind the proxy) may open
        # the socket: `[]` would switch the Origin check off, letting another site's page
        # ride the owner's cookie onto the live events.
        cors_allowed_origins=None,
    )


def socketio_channel(database_url: str) -> str:
    """The Redis channel of a deployment's Socket.IO events, named like its leader lease: a
    Redis server shared by two deployments must not carry one owner's fills to the other's
    browsers."""
    from app.workers.leader import deployment_key

    return f"deskpilot:socketio:{deployment_key(database_url)}"


def _trust_proxies(app: Flask) -> None:
    """Behind TRUSTED_PROXIES reverse proxies, the client is the address the outermost of
    them saw: ProxyFix takes that many hops from the right of X-Forwarded-For (what a
    client forges sits further left) and of X-Forwarded-Proto (HTTPS at the proxy makes
    cookies Secure). Host is not taken from X-Forwarded-Host: proxies pass Host on, and
    PUBLIC_URL names the public address. Wrapped last, so Socket.IO's middleware inside
    sees the client too. With 0, X-Forwarded-For is ignored everywhere: the address is
    the socket's peer."""
    proxies = app.config.get("TRUSTED_PROXIES", 0)
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)


def _register_blueprints(app: Flask) -> None:
    from app.api import api_bp
    from app.api.errors import register_error_handlers
    from app.api.openapi import bp as openapi_bp
    from app.api.openapi import read_view_sources
    from app.api.params import RowIdConverter
    from app.routes import register_pages

    app.url_map.converters["id"] = RowIdConverter
    app.register_blueprint(api_bp)
    app.register_blueprint(openapi_bp)  # beside api_bp, outside its login gate: public
    read_view_sources(app)
    register_pages(app)
    register_error_handlers(app)


def _prepare_database(app: Flask) -> None:
    """Migrate, create the owner on first start, and seed a paper account for a new install."""
    from app.schema import upgrade_to_head
    from app.services.setup.accounts import seed_paper_account
    from app.services.setup.auth import ensure_owner

    with app.app_context():
        upgrade_to_head(db.engine)
        setup = ensure_owner(datetime.now(UTC))
        if setup is not None and app.config["SEED_PAPER_ACCOUNT"]:
            seed_paper_account()
        if setup is not None and setup.generated_password:
            announce_password(setup.user.username, setup.generated_password)


def _wire_prices(app: Flask) -> None:
    """Connect the adapters to the services (the same receivers for every app): prices
    they hear go to the price cache, which hands each to the paper venue; what a venue
    reports goes to the ledger; the bar history a broker reads goes to the bars.
    Idempotent: one subscription per process."""
    from app.brokers import listeners
    from app.brokers.paper import broker as paper
    from app.services.ledger.reports import apply_report
    from app.services.market import bar_history, bars, price_alerts, prices

    listeners.connect(quotes=prices.update, reports=apply_report, bars=bar_history.receive)
    prices.subscribe(paper.on_price)
    paper.wire_app(app)
    bars.wire(app)  # every price also becomes bars
    prices.subscribe(price_alerts.on_price)
    bar_history.wire(app)


def _wire_protections() -> None:
    """Let trading attach the protections that services.protection (a layer above) provides,
    and halt an account the broker refuses outright."""
    from .services.protection.advanced_orders import trail_entry, watch_bracket_break_even
    from .services.protection.halts import halt_broker_locked
    from .services.trading import lockouts, protections

    protections.register_attachers(trail=trail_entry, break_even=watch_bracket_break_even)
    lockouts.register_halter(halt_broker_locked)


def _wire_live(app: Flask) -> None:
    """Socket.IO for the owner: the connect handler on this app's server, and the pusher
    listening to the bus and the prices (one subscription per process)."""
    from app.routes import live
    from app.services.live import pusher
    from app.workers.live_status import status_of
    from app.workers.scheduler import is_leader

    live.register(socketio)
    pusher.wire(app, lambda bound: status_of(bound, leader=is_leader(bound)))


def _wire_notifications(app: Flask) -> None:
    """The outbox hears the bus (one subscription per process) and writes rows for the
    channels of this process; the delivery job sends them."""
    from app.services.notify import outbox
    from app.services.notify.channels.registry import all_channels

    outbox.wire(app, all_channels())


def _wire_metrics(app: Flask) -> None:
    """The app's Prometheus registry: the database's tallies read at scrape time, and the
    alerts' stage timings heard on the bus (one subscription per process)."""
    from app.services.records import events, metrics
    from app.workers.tallies import Tallies

    metrics.install(app, Tallies())
    events.subscribe("signal", metrics.on_signal)


def _init_scheduler(app: Flask) -> None:
    """Start the background jobs in the leader process; never under TESTING."""
    from app.workers.scheduler import init_scheduler

    init_scheduler(app)


def announce_password(username: str, password: str) -> None:
    """Print a generated password once, to the console only (never to the log)."""
    print(
        "\n" + "=" * 64 + "\n"
        f"  DeskPilot owner created.  Username: {username}\n"
        f"  Password: {password}\n"
        "  It is shown only this once; change it under Settings.\n" + "=" * 64 + "\n",
        file=sys.stderr,
        flush=True,
    )

"""DeskPilot's entry point: `python run.py [serve|worker|init|token|kill|backup|restore] ...`
(DESIGN §5.6)."""

import argparse
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from app import announce_password, create_app
from app.errors import AppError
from app.server import Server
from app.services.backup import serving
from app.workers.jobs import job_status
from app.workers.scheduler import running_scheduler, shutdown_scheduler
from config import Config


def serve() -> int:
    """Serve through gunicorn; the app (and its scheduler) starts in the worker process."""
    host, port = Config.HOST, Config.PORT
    _share = _hold_serving_lock()  # for this process's life, across restarts of its worker
    print(f"DeskPilot listening on http://{host}:{port}/login", file=sys.stderr, flush=True)
    Server(
        _serving_app, host=host, port=port, threads=Config.WEB_THREADS, on_exit=shutdown_scheduler
    ).run()
    return 0


def _serving_app():
    """gunicorn's worker holds a share of its own too: a PostgreSQL session (and the
    advisory lock it holds) stays with the process that opened it."""
    lock = _hold_serving_lock()
    app = create_app()
    app.extensions["deskpilot.serving_lock"] = lock  # held as long as the app lives
    return app


def _hold_serving_lock() -> serving.ServingLock | None:
    """Hold a share of the serving lock: `restore` refuses while any server holds one."""
    return serving.hold_while_serving(
        Config.DATABASE_URL,
        on_wait=lambda: print(
            "A restore is running on this database: waiting for it to finish.",
            file=sys.stderr,
            flush=True,
        ),
    )


def worker() -> int:
    """Migrate, then run the scheduled jobs in the foreground until SIGTERM or SIGINT."""
    _share = _hold_serving_lock()  # held until the process ends
    app = create_app(type("WorkerConfig", (Config,), {"SCHEDULER_ENABLED": True}))
    scheduler = running_scheduler(app)
    if scheduler is None:
        print(
            "Another process runs the jobs (it holds instance/scheduler.lock): start the web "
            "processes with SCHEDULER_ENABLED=0, or use PostgreSQL or Redis for a standby.",
            file=sys.stderr,
        )
        return 1
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    names = ", ".join(job.id for job in scheduler.get_jobs())
    print(f"DeskPilot worker running {names}; stop with SIGTERM or Ctrl-C", file=sys.stderr)
    stop.wait()
    shutdown_scheduler(app)  # lets a running job finish, then gives up the leader lock
    _print_last_runs(app)
    return 0


def _print_last_runs(app) -> None:
    """Say how each job last ended, so a stop leaves a record of what was running."""
    print("DeskPilot worker stopped. Last runs:", file=sys.stderr)
    for name, status in sorted(job_status(app).items()):
        outcome = "ok" if status.last_error is None else f"failed: {status.last_error}"
        print(f"  {name}: {status.last_run:%H:%M:%S} UTC, {outcome}", file=sys.stderr)


def init(app, reset_password: bool) -> int:
    """Migrate (create_app already did) and create or reset the owner."""
    from app.services.setup.auth import ensure_owner

    with app.app_context():
        setup = ensure_owner(datetime.now(UTC), reset_password=reset_password)
        if setup is None:
            print(
                "Database is migrated; the owner exists "
                "(use --reset-password to set a new password)."
            )
        elif setup.generated_password:
            announce_password(setup.user.username, setup.generated_password)
        else:
            print(f"Owner {setup.user.username!r} ready (password from ADMIN_PASSWORD).")
    return 0


def reset_two_factor(app) -> int:
    """Turn two-factor login off for the owner: the way back in after losing the phone and
    the backup codes. Being at the server's shell is the proof."""
    from app.services.setup import two_factor
    from app.services.setup.auth import owner

    with app.app_context():
        user = owner()
        if user is None:
            print("No owner yet: run `python run.py init` first.", file=sys.stderr)
            return 1
        was_on = two_factor.is_on(user)
        forgotten = two_factor.reset_from_shell(user, "cli (run.py init --reset-two-factor)")
        name = user.username
    state = "is now off" if was_on else "was already off"
    print(
        f"Two-factor login {state} for {name!r}; {_count(forgotten, 'trusted device')} "
        "removed. Log in with the password alone and turn it on again in Settings."
    )
    return 0


def token(app) -> int:
    from app.services.setup.auth import issue_api_token, owner

    with app.app_context():
        user = owner()
        if user is None:
            print("No owner yet: run `python run.py init` first.", file=sys.stderr)
            return 1
        print(issue_api_token(user, datetime.now(UTC)))
    return 0


def kill(app) -> int:
    """Engage the kill switch and print what it did; 1 when any account failed."""
    from app.services.protection import kill_switch

    with app.app_context():
        report = kill_switch.engage(datetime.now(UTC), actor="cli (run.py kill)")
    print(
        f"Kill switch ENGAGED at {report.engaged_at:%Y-%m-%d %H:%M:%S} UTC: webhook execution "
        "is disabled and every account is halted."
    )
    print(
        f"Cancelled {_count(report.cancelled_orders, 'working order')}, "
        f"flattened {_count(report.flattened_positions, 'position')}."
    )
    for result in report.accounts:
        if result.ok:
            print(
                f"  ok      {result.account}: "
                f"{_count(result.cancelled_orders, 'order')} cancelled, "
                f"{_count(result.flattened_positions, 'position')} flattened"
            )
        else:
            print(f"  FAILED  {result.account}: {result.message}")
    if report.failures:
        print("Some accounts could not be cleared: check them at the broker now.", file=sys.stderr)
    print("Re-arm from the control center (Re-arm) or with DELETE /api/kill-switch.")
    return 1 if report.failures else 0


def backup(target: str) -> int:
    """Write a consistent copy of the database while it serves; say what was written."""
    from app.services.backup.copies import backup_database

    report = backup_database(Config.DATABASE_URL, Path(target))
    print(
        f"Wrote {report.path} ({report.size:,} bytes): a {report.kind} backup of "
        f"{report.database}, schema revision {report.revision or 'none (never migrated)'}."
    )
    return 0


def restore(source: str) -> int:
    """Put a backup back (no server may run on the database) and say what was done."""
    from app.services.backup.copies import restore_database

    report = restore_database(Config.DATABASE_URL, Path(source), datetime.now(UTC))
    print(
        f"Restored {report.source} ({report.kind}, schema revision {report.backup_revision}) "
        f"into {report.database}; migrated to {report.revision}."
    )
    if report.safety_copy is None:
        print("There was no database before: nothing to keep.")
    else:
        print(f"The database it replaced is kept at {report.safety_copy}.")
    return 0


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="run.py",
        description="DeskPilot trading automation server. Without a command: serve.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser(
        "serve",
        help="migrate, create the owner on first start, and serve pages, API, webhooks and "
        "Socket.IO on HOST:PORT through gunicorn (one worker process, WEB_THREADS threads), "
        "running the scheduled jobs too unless SCHEDULER_ENABLED=0 (the default command)",
    )
    commands.add_parser(
        "worker",
        help="migrate, then run only the scheduled jobs (paper feed, position poller, "
        "monitor) in the foreground, serving nothing, until SIGTERM or Ctrl-C",
    )
    init_parser = commands.add_parser("init", help="migrate the database and create the owner")
    init_parser.add_argument(
        "--reset-password",
        action="store_true",
        help="set the owner's password from ADMIN_PASSWORD (or a generated one)",
    )
    init_parser.add_argument(
        "--reset-two-factor",
        action="store_true",
        help="turn the owner's two-factor login off and forget trusted devices (a lost "
        "phone and lost backup codes: shell access to the server is the proof)",
    )
    commands.add_parser("token", help="print a new API token (the previous one is revoked)")
    commands.add_parser(
        "kill",
        help="engage the kill switch: cancel every working order, flatten every position, "
        "halt every account and refuse alerts until re-armed (control center or "
        "DELETE /api/kill-switch); exit status 1 if any account failed",
    )
    backup_parser = commands.add_parser(
        "backup",
        help="write a consistent copy of the database to FILE, safe while the server runs "
        "(SQLite's online backup, or pg_dump -Fc on PostgreSQL); exit status 1 if it failed",
    )
    backup_parser.add_argument("file", help="where to write the backup (replaced if present)")
    restore_parser = commands.add_parser(
        "restore",
        help="replace the database with the backup in FILE and migrate it; refused (exit "
        "status 1) while run.py serve or run.py worker runs on the database; keeps a safety "
        "copy of what it replaced",
    )
    restore_parser.add_argument("file", help="a backup written by run.py backup")
    args = parser.parse_args(argv)

    if args.command in (None, "serve"):
        return serve()
    if args.command == "worker":
        return worker()
    if args.command in ("backup", "restore"):  # no app: it would migrate the live database
        try:
            return backup(args.file) if args.command == "backup" else restore(args.file)
        except AppError as refusal:
            print(refusal.message, file=sys.stderr)
            return 1
    # One-shot commands must not start the scheduler or take its leader lock.
    app = create_app(type("CommandConfig", (Config,), {"SCHEDULER_ENABLED": False}))
    if args.command == "init":
        status = init(app, args.reset_password)
        return reset_two_factor(app) if args.reset_two_factor and status == 0 else status
    if args.command == "token":
        return token(app)
    return kill(app)


if __name__ == "__main__":
    sys.exit(main())

"""DeskPilot's entry point: `python run.py [serve|worker|init|token|kill] ...` (DESIGN §5.6)."""

import argparse
import signal
import sys
import threading
from datetime import UTC, datetime

from app import announce_password, create_app
from app.server import Server
from app.workers.jobs import job_status
from app.workers.scheduler import running_scheduler, shutdown_scheduler
from config import Config


def serve() -> int:
    """Serve through gunicorn; the app (and its scheduler) starts in the worker process."""
    host, port = Config.HOST, Config.PORT
    print(f"DeskPilot listening on http://{host}:{port}/login", file=sys.stderr, flush=True)
    Server(
        create_app, host=host, port=port, threads=Config.WEB_THREADS, on_exit=shutdown_scheduler
    ).run()
    return 0


def worker() -> int:
    """Migrate, then run the scheduled jobs in the foreground until SIGTERM or SIGINT."""
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
    commands.add_parser("token", help="print a new API token (the previous one is revoked)")
    commands.add_parser(
        "kill",
        help="engage the kill switch: cancel every working order, flatten every position, "
        "halt every account and refuse alerts until re-armed (control center or "
        "DELETE /api/kill-switch); exit status 1 if any account failed",
    )
    args = parser.parse_args(argv)

    if args.command in (None, "serve"):
        return serve()
    if args.command == "worker":
        return worker()
    # One-shot commands must not start the scheduler or take its leader lock.
    app = create_app(type("CommandConfig", (Config,), {"SCHEDULER_ENABLED": False}))
    if args.command == "init":
        return init(app, args.reset_password)
    if args.command == "token":
        return token(app)
    return kill(app)


if __name__ == "__main__":
    sys.exit(main())

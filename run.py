"""DeskPilot's entry point: `python run.py [serve|init|token|kill] ...` (DESIGN §5.6)."""

import argparse
import sys
from datetime import UTC, datetime

from app import announce_password, create_app
from app.extensions import socketio
from config import Config


def serve(app) -> int:
    host, port = app.config["HOST"], app.config["PORT"]
    print(f"DeskPilot listening on http://{host}:{port}/login", file=sys.stderr, flush=True)
    socketio.run(app, host=host, port=port, use_reloader=False, allow_unsafe_werkzeug=True)
    return 0


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
        prog="run.py", description="DeskPilot trading automation server."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("serve", help="start the server (the default)")
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
        return serve(create_app())
    # One-shot commands must not start the scheduler or take its leader lock.
    app = create_app(type("CommandConfig", (Config,), {"SCHEDULER_ENABLED": False}))
    if args.command == "init":
        return init(app, args.reset_password)
    if args.command == "token":
        return token(app)
    return kill(app)


if __name__ == "__main__":
    sys.exit(main())

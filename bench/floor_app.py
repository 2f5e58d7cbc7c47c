"""The floor for bench/webhook.py: a bare Flask route that parses the JSON and inserts one
SQLite row (WAL), served the way DeskPilot is — Flask-SocketIO in threading mode under
the same embedded gunicorn (one gthread worker, WEB_THREADS threads, access log on).

    .venv/bin/python bench/floor_app.py <sqlite file> <port>
"""

import json
import sqlite3
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import Flask, jsonify, request  # noqa: E402
from flask_socketio import SocketIO  # noqa: E402

from app.server import Server  # noqa: E402
from config import Config  # noqa: E402


def make_app(database: str) -> Flask:
    """The floor's app; one SQLite connection per server thread, as a pool would give."""
    app = Flask(__name__)
    SocketIO(app, async_mode="threading")
    local = threading.local()

    def connection() -> sqlite3.Connection:
        if getattr(local, "db", None) is None:
            local.db = sqlite3.connect(database, timeout=15)
            local.db.execute("PRAGMA journal_mode=WAL")
            local.db.execute("PRAGMA synchronous=NORMAL")
        return local.db

    @app.post("/floor")
    def floor():
        alert = json.loads(request.get_data())
        with connection() as db:
            cursor = db.execute("INSERT INTO alerts (body) VALUES (?)", (json.dumps(alert),))
        return jsonify(status="stored", id=cursor.lastrowid)

    return app


def main() -> None:
    database, port = sys.argv[1], int(sys.argv[2])
    with sqlite3.connect(database) as setup:
        setup.execute("CREATE TABLE IF NOT EXISTS alerts (id INTEGER PRIMARY KEY, body TEXT)")
    Server(
        lambda: make_app(database), host="127.0.0.1", port=port, threads=Config.WEB_THREADS
    ).run()


if __name__ == "__main__":
    main()

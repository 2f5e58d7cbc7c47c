"""The floor for bench/webhook.py: a bare Flask route on DeskPilot's server stack
(Flask-SocketIO threading mode, SQLite in WAL) that parses the JSON and inserts one row."""

import json
import sqlite3
import sys
import threading

from flask import Flask, jsonify, request
from flask_socketio import SocketIO

app = Flask(__name__)
socketio = SocketIO(app, async_mode="threading")
_local = threading.local()


def connection(path: str) -> sqlite3.Connection:
    if getattr(_local, "db", None) is None:
        _local.db = sqlite3.connect(path, timeout=15)
        _local.db.execute("PRAGMA journal_mode=WAL")
        _local.db.execute("PRAGMA synchronous=NORMAL")
    return _local.db


@app.post("/floor")
def floor():
    alert = json.loads(request.get_data())
    db = connection(app.config["DB"])
    with db:
        cursor = db.execute("INSERT INTO alerts (body) VALUES (?)", (json.dumps(alert),))
    return jsonify(status="stored", id=cursor.lastrowid)


if __name__ == "__main__":
    database, port = sys.argv[1], int(sys.argv[2])
    with sqlite3.connect(database) as setup:
        setup.execute("CREATE TABLE IF NOT EXISTS alerts (id INTEGER PRIMARY KEY, body TEXT)")
    app.config["DB"] = database
    socketio.run(
        app,
        host="127.0.0.1",
        port=port,
        use_reloader=False,
        allow_unsafe_werkzeug=True,
        log_output=False,
    )

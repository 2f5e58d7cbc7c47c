"""`python run.py`: help, init (owner with a printed password), token, kill."""

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app import create_app
from app.services.setup.auth import authenticate
from tests.conftest import make_config

ROOT = Path(__file__).resolve().parents[2]


def run_cli(tmp_path, *args, **env):
    environment = {
        k: v for k, v in os.environ.items() if k not in {"ADMIN_PASSWORD", "DATABASE_URL"}
    }
    environment.update(DESKPILOT_INSTANCE_DIR=str(tmp_path), **env)
    return subprocess.run(
        [sys.executable, "run.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_help_lists_every_command(tmp_path):
    result = run_cli(tmp_path, "--help")
    assert result.returncode == 0
    for command in ("serve", "init", "token", "kill"):
        assert command in result.stdout


@pytest.fixture
def initialised(tmp_path):
    result = run_cli(tmp_path, "init")
    assert result.returncode == 0, result.stderr
    return tmp_path, result


def test_init_creates_owner_with_generated_password_printed_once(initialised):
    tmp_path, first = initialised
    assert "Username: admin" in first.stderr
    password_line = next(line for line in first.stderr.splitlines() if "Password:" in line)
    assert len(password_line.split("Password:")[1].strip()) >= 12
    assert (tmp_path / "deskpilot.db").exists()
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "encryption_key").stat().st_mode & 0o777 == 0o600
    again = run_cli(tmp_path, "init")
    assert "Password:" not in again.stderr
    log_lines = [line for line in first.stderr.splitlines() if " INFO " in line]
    assert all(password_line.split("Password:")[1].strip() not in line for line in log_lines)


def test_init_takes_admin_credentials_from_the_environment(tmp_path):
    result = run_cli(tmp_path, "init", ADMIN_USERNAME="trader", ADMIN_PASSWORD="env-given-password")
    assert result.returncode == 0
    assert "Password:" not in result.stderr
    app = create_app(make_config(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'deskpilot.db'}"))
    with app.app_context():
        assert authenticate("trader", "env-given-password", datetime.now(UTC)).username == "trader"


def test_init_reset_password(initialised):
    tmp_path, _ = initialised
    result = run_cli(tmp_path, "init", "--reset-password", ADMIN_PASSWORD="a brand new password")
    assert result.returncode == 0
    assert "from ADMIN_PASSWORD" in result.stdout


def test_token_prints_a_new_token_each_time(initialised):
    tmp_path, _ = initialised
    first = run_cli(tmp_path, "token").stdout.strip()
    second = run_cli(tmp_path, "token").stdout.strip()
    assert first.startswith("dp_") and second.startswith("dp_") and first != second


def test_kill_engages_the_kill_switch_and_prints_the_report(initialised):
    tmp_path, _ = initialised
    result = run_cli(tmp_path, "kill")
    assert result.returncode == 0, result.stderr
    assert "Kill switch ENGAGED" in result.stdout
    assert "Cancelled 0 working orders, flattened 0 positions." in result.stdout
    assert "DELETE /api/kill-switch" in result.stdout  # how to re-arm

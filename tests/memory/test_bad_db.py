"""Every way a database can be unusable ends in one clear line and exit code 2, and nothing is lost."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

from solvegraph.memory import Store
from solvegraph.memory.store import SCHEMA_VERSION
from tests.conftest import run_cli


def _one_line_exit_2(*args: str) -> str:
    proc = run_cli(*args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    return proc.stderr


def test_invalid_url() -> None:
    assert "invalid database URL" in _one_line_exit_2("memory", "stats", "--db", "not a url")
    assert "unsupported database" in _one_line_exit_2("memory", "stats", "--db", "mysql://u@h/db")


def test_unreachable_postgres_names_the_server() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://someone:secret@127.0.0.1:{port}/nowhere"
    err = _one_line_exit_2("memory", "stats", "--db", url)
    assert f"127.0.0.1:{port}/nowhere" in err and "secret" not in err


def test_read_only_file(tmp_path: Path) -> None:
    db = tmp_path / "ro.sqlite"
    Store(f"sqlite:///{db}")
    db.chmod(0o444)
    err = _one_line_exit_2("memory", "stats", "--db", f"sqlite:///{db}")
    assert "is read-only" in err and str(db) in err
    db.chmod(0o644)
    assert Store(f"sqlite:///{db}").stats()["runs"] == 0, "the file is intact"


def test_corrupt_sqlite_file(tmp_path: Path) -> None:
    db = tmp_path / "corrupt.sqlite"
    db.write_bytes(b"this is not a database " * 200)
    err = _one_line_exit_2("memory", "stats", "--db", f"sqlite:///{db}")
    assert "not a valid SQLite database" in err and str(db) in err
    assert db.read_bytes().startswith(b"this is not a database"), "the file is left as it was"


def test_schema_from_another_version(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite"
    Store(f"sqlite:///{db}")
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    err = _one_line_exit_2("runs", "list", "--db", f"sqlite:///{db}")
    assert "schema version 99" in err and f"uses version {SCHEMA_VERSION}" in err


def test_foreign_tables_are_not_misread(tmp_path: Path) -> None:
    db = tmp_path / "other.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE runs (x INTEGER)")
    assert "not a solvegraph memory" in _one_line_exit_2("memory", "stats", "--db", f"sqlite:///{db}")


def test_unknown_run_id(tmp_path: Path) -> None:
    err = _one_line_exit_2("runs", "show", "nosuchrun", "--db", f"sqlite:///{tmp_path}/m.sqlite")
    assert "no run or trajectory 'nosuchrun'" in err


def test_bad_db_fails_before_any_model_call(tmp_path: Path) -> None:
    db = tmp_path / "corrupt.sqlite"
    db.write_bytes(b"garbage" * 100)
    err = _one_line_exit_2("solve", "What is 1+1?", "--db", f"sqlite:///{db}", "--base-url", "http://127.0.0.1:9/v1")
    assert "not a valid SQLite database" in err

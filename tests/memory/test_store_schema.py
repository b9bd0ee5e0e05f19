"""The store's structure: schema migrations, one-line errors from every method, and SQL built with bound parameters."""

from __future__ import annotations

import ast
import inspect as pyinspect
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text

from solvegraph.memory import Step, Store, StoreError, Trajectory
from solvegraph.memory.store import (
    MIGRATIONS,
    SCHEMA_VERSION,
    MadeToolStore,
    ReuseStore,
    RunStore,
    TrajectoryLog,
    TrajectoryStore,
    Write,
)
from solvegraph.memory.toolmaking import list_tools
from solvegraph.types import Certificate
from tests.memory_backends import postgres_server

V1 = Path(__file__).parent.parent / "fixtures" / "memory" / "schema_v1.sqlite"


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


def _schema(store: Store) -> dict[str, Any]:
    """Tables with their columns and indexes, as the database reports them."""
    found = inspect(store.engine)
    return {
        table: (
            sorted(c["name"] for c in found.get_columns(table)),
            sorted((i["name"], tuple(i["column_names"])) for i in found.get_indexes(table)),
        )
        for table in sorted(found.get_table_names())
    }


def test_a_version_1_database_is_migrated_and_keeps_its_data(tmp_path: Path) -> None:
    """tests/fixtures/memory/schema_v1.sqlite was written by solvegraph at schema version 1."""
    db = tmp_path / "v1.sqlite"
    shutil.copy(V1, db)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT value FROM meta").fetchone() == ("1",)
    store = Store(f"sqlite:///{db}")
    assert store.migrated == [m.version for m in MIGRATIONS] and SCHEMA_VERSION >= 2
    stats = store.stats()
    assert (stats["runs"], stats["trajectories"], stats["steps"], stats["made_tools"]) == (1, 1, 2, 1)
    hit = store.search("six times seven python")[0]
    assert hit["answer"] == "42" and store.load(hit["trajectory"]).steps[0].tool_results[0]["output"] == "42"
    assert [t["name"] for t in list_tools(store)] == ["times"]
    fresh = Store(f"sqlite:///{tmp_path}/fresh.sqlite")
    assert _schema(store) == _schema(fresh), "a migrated database has exactly a fresh one's tables and indexes"
    store.close()
    assert Store(f"sqlite:///{db}").migrated == [], "a database at the current version is left alone"


def test_a_version_1_database_keeps_certificates_of_its_trajectories_once_migrated(tmp_path: Path) -> None:
    """Schema version 6 adds the certificates table: a trajectory written at version 1 gets one."""
    db = tmp_path / "v1.sqlite"
    shutil.copy(V1, db)
    store = Store(f"sqlite:///{db}")
    assert 6 in store.migrated
    trajectory = store.search("six times seven python")[0]["trajectory"]
    cert = Certificate(kind="milp", claim={"status": "optimal", "values": {"x": 42}}, trajectory_id=trajectory)
    store.save_certificates([cert])
    assert store.certificates(trajectory) == [cert]
    assert store.delete_trajectories([trajectory])["trajectories"] == 1 and store.certificates(trajectory) == []
    store.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_each_migration_runs_on_both_dialects(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = f"sqlite:///{tmp_path}/m.sqlite" if backend == "sqlite" else request.getfixturevalue("pg_url")
    store = Store(url)
    target = _schema(store)
    with store.engine.begin() as conn:  # back to version 1: drop what the later versions added
        conn.execute(text("DROP TABLE certificates"))
        conn.execute(text("DROP INDEX IF EXISTS ix_traj_run_started"))
        conn.execute(text("DROP INDEX IF EXISTS ux_traj_run_sample"))
        conn.execute(text("ALTER TABLE trajectories DROP COLUMN sample_id"))
        conn.execute(text("ALTER TABLE steps DROP COLUMN reply_meta"))
        conn.execute(text("ALTER TABLE steps DROP COLUMN model"))
        conn.execute(text("ALTER TABLE steps DROP COLUMN cost_usd"))
        conn.execute(text("ALTER TABLE trajectories DROP COLUMN cost_usd"))
        conn.execute(text("UPDATE meta SET value = '1' WHERE key = 'schema_version'"))
    assert _schema(store) != target
    store.close()
    again = Store(url)
    assert again.migrated == [m.version for m in MIGRATIONS] and _schema(again) == target
    again.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_fresh_memory_opened_by_many_at_once_is_created_once_and_seen_whole(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Every opener sees all of a memory or none of it: never tables without their version (the
    bench's progress read, or a second worker, opening the database its run is creating), and
    none is told the database is locked while another switches it to WAL."""
    for attempt in range(12 if backend == "sqlite" else 4):
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path}/fresh{attempt}.sqlite"
        else:
            base = request.getfixturevalue("pg_url")
            admin = Store(base)
            with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text(f"CREATE DATABASE fresh{attempt}"))
            admin.close()
            url = base.rsplit("/", 1)[0] + f"/fresh{attempt}"
        start = threading.Barrier(8)
        failures: list[str] = []

        def open_it(url: str = url, start: threading.Barrier = start, failures: list[str] = failures) -> None:
            start.wait()
            try:
                Store(url).close()
            except StoreError as exc:
                failures.append(str(exc))

        threads = [threading.Thread(target=open_it) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []
        store = Store(url)
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT key, value FROM meta")).all() == [("schema_version", str(SCHEMA_VERSION))]
        assert store.migrated == [] and store.stats()["runs"] == 0
        store.close()


def test_opening_a_fresh_sqlite_memory_another_connection_has_locked_waits_for_it(tmp_path: Path) -> None:
    """Switching to WAL answers "database is locked" at once, busy timeout or not; the store waits instead."""
    db = tmp_path / "held.sqlite"
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("CREATE TABLE elsewhere (x)")
    opened: list[Store | Exception] = []

    def open_it() -> None:
        try:
            opened.append(Store(f"sqlite:///{db}"))
        except StoreError as exc:
            opened.append(exc)

    opener = threading.Thread(target=open_it)
    opener.start()
    time.sleep(0.5)  # the opener meets the lock
    holder.execute("COMMIT")
    holder.close()
    opener.join()
    (store,) = opened
    assert isinstance(store, Store), store
    assert store.stats()["runs"] == 0
    store.close()


def _calls(store: Store) -> dict[str, Callable[[], Any]]:
    t = Trajectory(problem="What is one plus one?", model="m")
    made = {"name": "f", "signature": "f()", "source": "", "source_hash": "x"}
    return {
        "start_run": lambda: store.start_run("solve"),
        "run_config": lambda: store.run_config("r"),
        "update_run_config": lambda: store.update_run_config("r", x=1),
        "finished_samples": lambda: store.finished_samples("r"),
        "repair_samples": lambda: store.repair_samples("r", {"h": [("s", None)]}),
        "abandon_unfinished": lambda: store.abandon_unfinished("r"),
        "results": lambda: store.results("r"),
        "outcome_counts": lambda: store.outcome_counts(["r"]),
        "run_costs": lambda: store.run_costs(["r"]),
        "role_costs": lambda: store.role_costs("r"),
        "result_of": lambda: store.result_of("t"),
        "resolve": lambda: store.resolve("r"),
        "runs": lambda: store.runs(),
        "stats": lambda: store.stats(),
        "begin": lambda: store.begin(t, "r"),
        "add_step": lambda: store.add_step(t.id, 0, Step(agent="solver", round=0)),
        "write_batch": lambda: store.write_batch([Write("begin", (t, "r", None, None))]),
        "keep_steps": lambda: store.keep_steps(t.id, 0),
        "reopen": lambda: store.reopen(t.id),
        "finish": lambda: store.finish(t),
        "save_many": lambda: store.save_many([(t, "r", None)]),
        "load": lambda: store.load(t.id),
        "delete_trajectories": lambda: store.delete_trajectories([t.id]),
        "select_for_prune": lambda: store.select_for_prune(status="failed"),
        "save_certificates": lambda: store.save_certificates([Certificate(kind="milp", claim={}, trajectory_id=t.id)]),
        "certificates": lambda: store.certificates(t.id),
        "certificate": lambda: store.certificate("c"),
        "retract_answer": lambda: store.retract_answer(t.problem, "2"),
        "cached_answer": lambda: store.cached_answer(t.problem, "h"),
        "search": lambda: store.search("one plus one"),
        "add_made_tools": lambda: store.add_made_tools([made]),
        "made_tools_from": lambda: store.made_tools_from(["p"], exclude_problem_hash="h"),
        "count_tool_uses": lambda: store.count_tool_uses([1], succeeded=True),
        "made_tools": lambda: store.made_tools(),
        "cached_reply": lambda: store.cached_reply("k"),
        "cache_reply": lambda: store.cache_reply("k", "m", {}),
    }  # fmt: skip


def test_every_method_of_the_interface_fails_in_one_line(tmp_path: Path) -> None:
    """A database that goes bad under a running store: each read and write is one StoreError, never a driver error."""
    db = tmp_path / "m.sqlite"
    store = Store(f"sqlite:///{db}")
    assert isinstance(store, TrajectoryStore)
    roles = (RunStore, TrajectoryLog, ReuseStore, MadeToolStore)  # every role's methods; close() is lifecycle
    methods = {n for role in roles for n, v in vars(role).items() if callable(v) and not n.startswith("_")}
    calls = _calls(store)
    assert set(calls) == methods, "the table covers the whole interface"
    with store.engine.begin() as conn:
        for table in ("problems_fts_vocab", "problems_fts", "certificates", "steps", "made_tools", "response_cache",
                      "trajectories", "problems", "runs"):  # fmt: skip
            conn.execute(text(f"DROP TABLE {table}"))
    for name, call in calls.items():
        with pytest.raises(StoreError) as caught:
            call()
        message = str(caught.value)
        assert "\n" not in message and str(db) in message and "no such table" in message, (name, message)


def test_store_sql_is_built_with_bound_parameters() -> None:
    """No SQL text in the store is assembled from f-strings, % or .format: values travel as parameters."""
    import solvegraph.memory.store as package

    folder = Path(pyinspect.getfile(package)).parent
    sources = sorted(folder.glob("*.py"))
    assert len(sources) >= 10
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "text":
                for arg in node.args:
                    assert isinstance(arg, ast.Name | ast.Constant | ast.Attribute), (
                        f"{path.name}:{node.lineno}: text() given a built string"
                    )
                    assert not isinstance(arg, ast.JoinedStr)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_fresh_memory_scores_a_sample_once_through_a_partial_index(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The condition is named for PostgreSQL only when a PostgreSQL memory is made (models.py keeps
    SQLAlchemy's PostgreSQL dialect out of every process); the index is partial on both all the same."""
    url = f"sqlite:///{tmp_path}/p.sqlite" if backend == "sqlite" else request.getfixturevalue("pg_url")
    store = Store(url)
    if backend == "sqlite":
        query = "SELECT sql FROM sqlite_master WHERE name = 'ux_traj_run_sample'"
    else:
        query = "SELECT indexdef FROM pg_indexes WHERE indexname = 'ux_traj_run_sample'"
    with store.engine.connect() as conn:
        sql = conn.execute(text(query)).scalar_one()
    store.close()
    assert "UNIQUE" in sql.upper() and "outcome IS NOT NULL" in sql.replace("(", "").replace(")", "")

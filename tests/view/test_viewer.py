"""solvegraph view in real Chromium (Debian's binary, driven by Playwright), over a store filled by real
bench and solve runs with the scripted model."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from solvegraph.memory import Store
from solvegraph.view import make_app
from tests.conftest import DATA, ROOT, run_cli
from tests.view.conftest import ANSWERS, CHAT, HOSTILE_ANSWER, QUESTIONS, SOLVE

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is part of the test install")

HOSTILE = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("chromium is not installed: apt-get install -y chromium (see scripts/test.sh)")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict]]:
    """A store with a pal bench whose code prints markup, a direct bench to compare, and a solve."""
    from solvegraph.testing import ScriptedModel

    tmp = tmp_path_factory.mktemp("view")
    db = tmp / "m.sqlite"
    printing = "```python\nprint(" + repr(HOSTILE) + ")\nprint(18)\n```"
    ids = {}
    with ScriptedModel({"solver": [printing]}) as model:
        proc = run_cli("bench", "gsm8k", "--data", str(DATA / "gsm8k/test.jsonl"), "--limit", "6", "--strategy",
                       "pal", "-j", "2", "--json", "--base-url", model.base_url, "--db", f"sqlite:///{db}")  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        ids["pal"] = json.loads(proc.stdout.strip().splitlines()[-1])["run_id"]
    priced = tmp / "solvegraph.toml"  # "ANSWER: 3" is 2 completion tokens: a cent a call
    priced.write_text("[prices]\nscripted = { input = 0, output = 5000 }\n")
    with ScriptedModel({"solver": ["ANSWER: 3"]}) as model:  # right where pal is wrong, and the reverse
        proc = run_cli("bench", "gsm8k", "--data", str(DATA / "gsm8k/test.jsonl"), "--limit", "6", "--strategy",
                       "direct", "--json", "--base-url", model.base_url, "--db", f"sqlite:///{db}",
                       "--config", str(priced))  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        ids["direct"] = json.loads(proc.stdout.strip().splitlines()[-1])["run_id"]
    yield db, ids


@contextlib.contextmanager
def _serving(db: Path) -> Iterator[str]:
    """The viewer over ``db`` on a free loopback port, in a thread: its base URL."""
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(make_app(Store(f"sqlite:///{db}")), port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(filled: tuple[Path, dict]) -> Iterator[str]:
    with _serving(filled[0]) as url:
        yield url


@pytest.fixture(scope="module")
def kinds_server(every_kind: tuple[Path, dict]) -> Iterator[str]:
    """The viewer over a bench, a solve and a chat run (tests/view/conftest.py)."""
    with _serving(every_kind[0]) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


def test_runs_to_run_to_trajectory_with_markup_shown_as_text(server, browser, filled, tmp_path: Path) -> None:
    _, ids = filled
    page = browser.new_page()
    page.goto(server + "/")
    assert page.locator("#runs tr").count() == 3  # header + two runs
    page.click(f"a[href='/runs/{ids['pal']}']")
    assert "accuracy" in page.locator("#accuracy").inner_text()
    rows = page.locator("#samples tr")
    assert rows.count() == 7
    table = page.locator("#samples").inner_text()
    assert "Janet" in table, "the question is in the table"
    assert '"18"' not in table and "18" in table, "the gold is shown as the value, not as its JSON"
    page.screenshot(path=str(tmp_path / "run.png"), full_page=True)
    rows.nth(1).locator("a").click()
    page.wait_for_selector("#problem")
    text = page.locator(".step").first.inner_text()
    assert "print(" in text, "the code is shown"
    assert page.locator("pre.code span").count() > 2, "highlighted"
    output = page.locator("pre.output").first.inner_text()
    assert HOSTILE in output, "the tool output's markup is shown as text"
    assert page.evaluate("window.pwned") is None, "and none of it ran"
    assert page.locator("img[src=x]").count() == 0
    page.screenshot(path=str(tmp_path / "trajectory.png"), full_page=True)
    assert (tmp_path / "trajectory.png").stat().st_size > 10_000


def test_cost_shown_for_a_priced_run_and_unknown_for_an_unpriced_one(server, browser, filled) -> None:
    _, ids = filled
    page = browser.new_page()
    page.goto(server + "/?sort=cost")
    rows = page.locator("#runs tr")
    assert "$0.0600" in rows.nth(1).inner_text(), "the priced run first, with what it cost"
    assert "$" not in rows.nth(2).locator("td.cost").inner_text(), "the unpriced one: unknown, not $0"
    page.click(f"a[href='/runs/{ids['direct']}']")
    assert page.locator("#cost").inner_text() == "cost $0.0600 ($0.0100 per sample)"
    assert "$0.0100" in page.locator("#samples tr").nth(1).inner_text()
    page.locator("#samples tr").nth(1).locator("a").click()
    page.wait_for_selector("#problem")
    assert page.locator("#cost").inner_text() == "$0.0100"
    assert "2 tokens · $0.0100" in page.locator(".step").first.inner_text()
    page.goto(server + f"/runs/{ids['pal']}")
    assert "cost unknown: model scripted has no price" in page.locator("#cost").inner_text()
    page.goto(server + f"/compare?a={ids['pal']}&b={ids['direct']}")
    assert page.locator("#pair tr").nth(2).inner_text().split()[-2:] == ["$0.0600", "$0.0600"]


def test_compare_two_runs_and_follow_a_flipped_sample(server, browser, filled, tmp_path: Path) -> None:
    _, ids = filled
    page = browser.new_page()
    page.goto(server + "/")
    for run_id in (ids["pal"], ids["direct"]):
        page.check(f"input.pick[value='{run_id}']")
    page.click("#compare button[type=submit]")
    page.wait_for_selector("#paired")
    paired = page.locator("#paired tr").nth(1).inner_text().split()
    assert paired[:5] == ["6", "0", "1", "1", "4"], paired  # shared, both, only A, only B, neither
    flipped = page.locator("#flipped tr")
    assert flipped.count() == 3 and "gsm8k-1" in flipped.nth(1).inner_text()
    page.screenshot(path=str(tmp_path / "compare.png"), full_page=True)
    flipped.nth(1).locator("a").first.click()
    page.wait_for_selector("#problem")
    assert "Janet" in page.locator("#problem").inner_text()
    assert page.goto(server + "/compare?a=" + ids["pal"]).status == 400


def test_filters_and_search(server, browser, filled) -> None:
    _, ids = filled
    page = browser.new_page()
    page.goto(server + "/?strategy=direct")
    assert page.locator("#runs tr").count() == 2 and ids["direct"][:12] in page.locator("#runs").inner_text()
    page.goto(server + f"/runs/{ids['pal']}?outcome=correct")
    shown = page.locator("#samples tr").count() - 1
    assert 0 < shown < 6 and "wrong" not in page.locator("#samples").inner_text()
    page.goto(server + "/")
    page.fill("header input[name=q]", "Janet ducks eggs")
    page.press("header input[name=q]", "Enter")
    page.wait_for_selector("#hits")
    assert "Janet" in page.locator("#hits").inner_text()


def test_a_corrupt_row_is_an_error_on_its_own_page(server, browser, filled) -> None:
    db, ids = filled
    store = Store(f"sqlite:///{db}")
    victim = store.results(ids["direct"])[0]["trajectory"]
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE steps SET timings = 'not json' WHERE trajectory_id = ?", (victim,))
    page = browser.new_page()
    response = page.goto(server + f"/t/{victim}")
    assert response is not None and response.status == 500
    assert "cannot be shown" in page.locator("#error").inner_text()
    assert page.goto(server + f"/runs/{ids['direct']}").status == 200, "the run page still renders"
    assert page.goto(server + "/t/nosuchtrajectory").status == 404


def test_a_live_run_advances_in_the_page(browser, scripted, tmp_path: Path) -> None:
    db = tmp_path / "live.sqlite"
    with scripted({"solver": ["ANSWER: 18"]}, delay_s=0.6) as model:
        bench = subprocess.Popen(
            [sys.executable, "-m", "solvegraph.cli", "bench", "gsm8k", "--data", str(DATA / "gsm8k/test.jsonl"),
             "--limit", "12", "--strategy", "direct", "-j", "1", "--base-url", model.base_url, "--db", f"sqlite:///{db}"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not (db.exists() and Store(f"sqlite:///{db}").runs()):
                time.sleep(0.2)
            run_id = Store(f"sqlite:///{db}").runs()[0]["id"]
            port = _free_port()
            srv = uvicorn.Server(uvicorn.Config(make_app(Store(f"sqlite:///{db}")), port=port, log_level="warning"))
            threading.Thread(target=srv.run, daemon=True).start()
            while not srv.started:
                time.sleep(0.05)
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/runs/{run_id}")
            assert page.locator("#live").count() == 1
            first = int(page.locator("#progress").inner_text().split()[0])
            page.wait_for_function(
                f"parseInt(document.getElementById('progress')?.textContent || '0') > {first}", timeout=20_000
            )
            srv.should_exit = True
        finally:
            bench.wait(timeout=60)


def test_view_bad_input_is_one_line(tmp_path: Path) -> None:
    proc = run_cli("view", "--db", f"sqlite:///{tmp_path}/missing.sqlite", "--no-open")
    assert proc.returncode == 2 and "no memory database" in proc.stderr and "Traceback" not in proc.stderr
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    proc = run_cli("view", "--db", f"sqlite:///{junk}", "--no-open")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    Store(f"sqlite:///{tmp_path}/ok.sqlite").stats()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = run_cli("view", "--db", f"sqlite:///{tmp_path}/ok.sqlite", "--no-open", "--port", str(port))
    assert proc.returncode == 2 and "in use" in proc.stderr and "Traceback" not in proc.stderr


def _watched(browser) -> tuple[object, list[str]]:
    """A new page, and the messages of every dialog (alert, confirm) it opens: none should open."""
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    return page, dialogs


def test_the_run_list_shows_every_kind(kinds_server, browser, every_kind) -> None:
    _, ids = every_kind
    page = browser.new_page()
    page.goto(kinds_server + "/")
    rows = {kind: page.locator("#runs tr", has=page.locator(f"a[href='/runs/{ids[kind]}']")) for kind in ids}
    cells = {kind: row.locator("td").all_inner_texts() for kind, row in rows.items()}
    assert [cells[k][2] for k in ("bench", "solve", "chat")] == ["bench", "solve", "chat"], "the kind column"
    assert cells["solve"][-1] == SOLVE, "a solve's problem"
    assert cells["chat"][-1] == CHAT[0] and cells["chat"][7] == "3 turns", "a chat's first question, its turns"
    assert cells["bench"][7] == "3 / 3" and cells["bench"][8] == "33.3%"
    assert cells["solve"][8] == cells["chat"][8] == "–", "no accuracy where nothing is scored"


def test_a_solve_run_shows_its_trajectory_and_no_accuracy(kinds_server, browser, every_kind) -> None:
    _, ids = every_kind
    page = browser.new_page()
    page.goto(kinds_server + "/")
    page.click(f"a[href='/runs/{ids['solve']}']")
    page.wait_for_selector("#problem")
    assert page.locator("#accuracy").count() == 0 and "accuracy" not in page.locator("main").inner_text()
    assert page.locator("#problem").inner_text() == SOLVE
    assert page.locator("#answer tr").nth(1).locator("td").first.inner_text() == "42"
    assert [page.locator(".step h3").nth(i).inner_text().split()[1] for i in range(3)] == [
        "planner", "solver", "solver"
    ]  # fmt: skip
    assert "print(6*7)" in page.locator("pre.code").first.inner_text()
    assert "model-accepted" in page.locator("main").inner_text()
    assert page.locator("#samples-nav").count() == 0, "one trajectory: nothing to step through"


def test_a_chat_run_shows_its_turns_in_order_with_markup_as_text(kinds_server, browser, every_kind) -> None:
    _, ids = every_kind
    page, dialogs = _watched(browser)
    page.goto(kinds_server + f"/runs/{ids['chat']}")
    turns = page.locator("#turns li.turn")
    assert turns.count() == 3
    assert page.locator("#accuracy").count() == 0 and "accuracy" not in page.locator("main").inner_text()
    assert page.locator("pre.question").all_inner_texts() == CHAT, "each question as asked, markup as text"
    assert page.locator("pre.answer").all_inner_texts() == [HOSTILE_ANSWER, "2", "3"]
    assert page.locator("main script, main textarea").count() == 0, "no element was made of them"
    assert page.evaluate("window.pwned") is None and dialogs == [], "and nothing of them ran"
    for i in range(3):
        status = turns.nth(i).locator(".status").inner_text()
        assert status.startswith("solved model-accepted") and "full trajectory" in status
    turns.nth(1).locator("a.full").click()
    page.wait_for_selector("#problem")
    assert page.locator("#problem").inner_text() == CHAT[1]
    assert page.locator("#position").inner_text() == "turn 2 · 2 of 3"


def test_previous_and_next_between_samples_by_link_and_key(kinds_server, browser, every_kind) -> None:
    _, ids = every_kind
    page = browser.new_page()
    page.goto(kinds_server + f"/runs/{ids['bench']}")
    order = page.locator("#samples tr td:first-child").all_inner_texts()
    assert sorted(order) == sorted(QUESTIONS)
    page.locator("#samples tr").nth(1).locator("a").click()
    page.wait_for_selector("#position")
    assert "keys: j or → next, k or ← previous" in page.locator("#samples-nav").inner_text(), "said on the page"

    def at() -> tuple[str, str]:
        return page.locator("#position").inner_text(), page.locator("#problem").inner_text()

    assert at() == (f"sample {order[0]} · 1 of 3", QUESTIONS[order[0]])
    assert page.locator("#prev").count() == 0
    page.click("#next")
    page.wait_for_url("**/t/*")
    assert at() == (f"sample {order[1]} · 2 of 3", QUESTIONS[order[1]])
    with page.expect_navigation():
        page.keyboard.press("j")
    assert at() == (f"sample {order[2]} · 3 of 3", QUESTIONS[order[2]])
    assert page.locator("#next").count() == 0, "the last sample has no next"
    with page.expect_navigation():
        page.keyboard.press("ArrowLeft")
    assert at()[0] == f"sample {order[1]} · 2 of 3"
    with page.expect_navigation():
        page.keyboard.press("k")
    assert at()[0] == f"sample {order[0]} · 1 of 3"
    before = page.url
    page.fill("header input[name=q]", "jk")  # typing j and k in the search box moves nowhere
    page.locator("header input[name=q]").press("ArrowRight")
    assert page.url == before and page.locator("header input[name=q]").input_value() == "jk"

    # Filtered by outcome on the run page, next and previous keep to that outcome.
    page.goto(kinds_server + f"/runs/{ids['bench']}?outcome=wrong")
    wrong = page.locator("#samples tr td:first-child").all_inner_texts()
    assert len(wrong) == 2
    page.locator("#samples tr").nth(1).locator("a").click()
    page.wait_for_selector("#position")
    assert page.locator("#position").inner_text() == f"sample {wrong[0]} · 1 of 2 with outcome wrong"
    with page.expect_navigation():
        page.keyboard.press("ArrowRight")
    assert page.locator("#position").inner_text() == f"sample {wrong[1]} · 2 of 2 with outcome wrong"

    # A chat's turns, by key.
    page.goto(kinds_server + f"/runs/{ids['chat']}")
    page.locator("#turn-1 a.full").click()
    page.wait_for_selector("#position")
    assert at() == ("turn 1 · 1 of 3", CHAT[0])
    with page.expect_navigation():
        page.keyboard.press("j")
    assert at() == ("turn 2 · 2 of 3", CHAT[1])


def test_the_run_pages_download_the_samples(kinds_server, browser, every_kind, tmp_path: Path) -> None:
    db, ids = every_kind
    page = browser.new_page()
    page.goto(kinds_server + f"/runs/{ids['bench']}")
    files = {}
    for name in ("CSV", "JSON Lines"):
        with page.expect_download() as download:
            page.locator("#downloads a", has_text=name).click()
        files[name] = download.value
    assert files["CSV"].suggested_filename == f"run-{ids['bench'][:12]}-samples.csv"
    exported = run_cli("runs", "export", ids["bench"], "--samples", "--db", f"sqlite:///{db}").stdout
    assert Path(files["JSON Lines"].path()).read_text() == exported, "the same rows as runs export --samples"
    rows = list(csv.DictReader(io.StringIO(Path(files["CSV"].path()).read_text(), newline="")))
    assert {r["id"]: r["answer"] for r in rows} == {**ANSWERS, "jsonl-formula": "'=1+2"}
    assert {r["id"]: r["question"] for r in rows}["jsonl-comma"] == QUESTIONS["jsonl-comma"]
    response = page.request.get(kinds_server + f"/runs/{ids['chat']}/samples.jsonl")
    assert response.ok and response.headers["content-type"] == "application/x-ndjson"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert [json.loads(line)["question"] for line in response.text().splitlines()] == CHAT
    assert page.request.get(kinds_server + f"/runs/{ids['chat']}/samples.xml").status == 404
    assert page.request.get(kinds_server + "/runs/nosuchrun/samples.csv").status == 404


def test_hostile_sample_text_is_shown_as_text_in_the_bench_pages(kinds_server, browser, every_kind) -> None:
    _, ids = every_kind
    page, dialogs = _watched(browser)
    page.goto(kinds_server + f"/runs/{ids['bench']}")
    row = page.locator("#samples tr", has=page.locator("a", has_text="jsonl-markup"))
    cells = row.locator("td").all_inner_texts()
    assert cells[1] == QUESTIONS["jsonl-markup"] and cells[3] == HOSTILE_ANSWER
    row.locator("a").click()
    page.wait_for_selector("#problem")
    assert page.locator("#problem").inner_text() == QUESTIONS["jsonl-markup"]
    assert page.locator("#answer tr").nth(1).locator("td").first.inner_text() == HOSTILE_ANSWER
    assert page.locator("main textarea, main script").count() == 0
    assert page.locator("main b", has_text="bold").count() == 0, "the question's <b> is text, not bold"
    assert page.evaluate("window.pwned") is None and dialogs == []

"""OptiBench as ReSocratic published it, scored by the ``values`` scorer: every quantity asked must match."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from solvegraph.bench._values import values_score
from solvegraph.memory import Store
from solvegraph.plugins import PluginManager
from tests.bench.test_data_registry import Mirror, cli_with_pin, sha
from tests.conftest import DATA

SLICE = DATA / "optibench_original" / "OptiBench.jsonl"
GOLD = {"The number of Process J": 0.0, "The number of Process P": 250.0, "The total metal extracted": 2250.0}


@pytest.mark.parametrize(
    ("answer", "correct"),
    [
        ('{"The number of Process J": 0, "The number of Process P": 250, "The total metal extracted": 2250}', True),
        # labels matched without regard to case and punctuation; numbers as text, with commas and units
        (
            '{"the number of process j": "0", "THE NUMBER OF PROCESS P.": "250 units", "The total metal extracted": '
            '"2,250"}',
            True,
        ),
        ("The number of Process J: 0\nThe number of Process P = 250.00001\nThe total metal extracted: 2250", True),
        ("The number of Process J: 0; The number of Process P: 250; The total metal extracted: 2250.0", True),
        ("0, 250, 2250", True),  # only the numbers, in the order asked
        ("[0, 250, 2250]", True),
        ('{"The number of Process J": 0, "The number of Process P": 250, "The total metal extracted": 2249.9}', False),
        ('{"The number of Process J": 0, "The number of Process P": 250}', False),  # one missing
        (
            '{"The number of Process J": "none", "The number of Process P": 250, "The total metal extracted": 2250}',
            False,
        ),
        ("0, 250", False),  # too few numbers to read by position
        ("2250", False),
        ("", False),
    ],
)
def test_every_value_must_match(answer: str, correct: bool) -> None:
    assert values_score(answer, GOLD).correct is correct


def test_the_detail_names_each_value_and_what_was_wrong() -> None:
    score = values_score('{"The number of Process J": 1, "The number of Process P": 250}', GOLD)
    assert score.detail["matched"] == "1/3"
    assert score.detail["reason"] == (
        "2 of 3 values missing or wrong: The number of Process J, The total metal extracted"
    )
    assert values_score("no numbers here", GOLD).detail["reason"].startswith("no values")
    # a large number: 1e-6 relative (0.395 here) where 1e-4 absolute would ask for more decimals than written
    assert values_score('{"Total Profit": 395000.3}', {"Total Profit": 395000.0}).correct
    assert not values_score('{"Total Profit": 395001}', {"Total Profit": 395000.0}).correct


def test_the_slice_reads_with_every_quantity_as_gold() -> None:
    loaded = PluginManager().datasets()["optibench_original"].load(SLICE)
    assert len(loaded.samples) == 5 and not loaded.skipped
    trucks = loaded.samples[1]
    assert trucks.id == "optibench_original-1" and len(trucks.answer) == 10
    assert trucks.answer["Total Profit"] == 395000.0
    assert "- Number of Trucks for GoodsX\n" in trucks.question and "ANSWER: {" in trucks.question


def test_bench_optibench_original_through_the_mirror(scripted, tmp_path: Path) -> None:
    lines = SLICE.read_text(encoding="utf-8").splitlines()
    array = json.dumps([json.loads(line) for line in lines], indent=4, ensure_ascii=False).encode()  # as upstream
    pinned = {
        "dataset": "optibench_original", "url": "https://example.invalid/OptiBench.json", "sha256": sha(array),
        "size": len(array), "license": "Apache-2.0", "citation": "Yang et al. 2025", "rows": "question, results",
        "format": "json-array",
    }  # fmt: skip
    answers = {
        "sell a kind of item": 'ANSWER: {"The maximum profit you can get": 3600}',
        "three types of goods": 'ANSWER: {"Total Profit": 395000}',  # one of ten: wrong
        "extract a metal": "ANSWER: 0, 250, 2250",
    }

    def solver(body: dict) -> str:
        q = body["messages"][-1]["content"]
        return next((a for key, a in answers.items() if key in q), "ANSWER: 0")

    db = f"sqlite:///{tmp_path / 'm.sqlite'}"
    with Mirror({"/optibench_original/OptiBench.json": array}) as mirror, scripted({"solver": [solver]}) as model:
        env = {"XDG_CACHE_HOME": str(tmp_path / "xdg"), "SOLVEGRAPH_DATA_MIRROR": mirror.url}
        proc = cli_with_pin(
            pinned, "bench", "optibench_original", "--limit", "3", "--strategy", "direct", "--json",
            "--base-url", model.base_url, "--db", db, env=env,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    rows = {r["sample"]: r for r in Store(db).results(summary["run_id"])}
    assert [rows[f"optibench_original-{i}"]["outcome"] for i in range(3)] == ["correct", "wrong", "correct"]
    assert rows["optibench_original-1"]["details"]["matched"] == "1/10"
    assert (tmp_path / "xdg/solvegraph/datasets/optibench_original/OptiBench.jsonl").is_file()

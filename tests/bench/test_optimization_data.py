"""Every optimization loader reads its whole (sliced) file; the objective scorer's tolerance rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from solvegraph.bench import DatasetError, objective_score
from solvegraph.plugins import PluginManager
from tests.conftest import DATA

# Record counts of the committed slices (tests/fixtures/datasets/README.md).
EXPECTED = {"nl4opt": 12, "mamo_easy": 8, "mamo_complex": 6, "optmath": 6}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_loader_reads_the_whole_file(name: str) -> None:
    dataset = PluginManager().datasets()[name]
    loaded = dataset.load(DATA / dataset.file_hint)
    assert len(loaded.samples) == EXPECTED[name] and loaded.skipped == []
    assert len({s.id for s in loaded.samples}) == EXPECTED[name]
    for s in loaded.samples:
        assert s.question.strip() and (s.answer == "infeasible" or isinstance(s.answer, float))


def test_nl4opt_infeasible_gold() -> None:
    loaded = PluginManager().datasets()["nl4opt"].load(DATA / "nl4opt/NL4OPT.jsonl")
    assert sum(s.answer == "infeasible" for s in loaded.samples) == 2
    assert loaded.samples[0].answer == 1160.0 and loaded.samples[0].id == "nl4opt-1"


def test_malformed_lines_are_reported_and_skipped(tmp_path: Path) -> None:
    f = tmp_path / "opt.jsonl"
    f.write_text(
        '{"en_question": "q1", "en_answer": "3"}\nnot json\n{"en_question": "q3"}\n'
        '{"en_question": "q4", "en_answer": "lots"}\n\n{"en_question": "q6", "en_answer": 6}\n'
    )
    loaded = PluginManager().datasets()["nl4opt"].load(f)
    assert [s.question for s in loaded.samples] == ["q1", "q6"]
    assert [r.split(": ", 1)[0] for r in loaded.skipped] == [f"{f}:2", f"{f}:3", f"{f}:4"]
    assert "invalid JSON" in loaded.skipped[0] and "en_answer" in loaded.skipped[1]
    with pytest.raises(DatasetError, match="not found"):
        PluginManager().datasets()["nl4opt"].load(tmp_path / "missing.jsonl")


def test_objective_scorer_tolerances() -> None:
    s = objective_score("1160", 1160.0)
    assert s.correct and s.detail["strict"] and s.detail["lenient"]
    s = objective_score("1160.0000001", 1160.0)
    assert s.detail["strict"]
    s = objective_score("1190", 1160.0)  # 2.6% off: lenient only
    assert s.correct and s.detail["lenient"] and not s.detail["strict"]
    s = objective_score("1300", 1160.0)  # 12% off
    assert not s.correct and not s.detail["lenient"]
    assert objective_score("1,160", "1160.0").correct
    assert not objective_score(None, 5.0).correct
    assert objective_score("0.0000001", 0.0).detail["strict"]  # absolute near zero


def test_infeasible_gold_needs_an_infeasible_answer() -> None:
    assert objective_score("infeasible", "infeasible").correct
    assert objective_score("Infeasible.", "No Best Solution").correct
    assert not objective_score("0", "infeasible").correct
    assert not objective_score("infeasible", 12.0).correct

"""The lean-judge verifier on a statement the model worded itself, with the real test ``lean``."""

from __future__ import annotations

from typing import Any

import pytest

from solvegraph.plugins import ToolSession
from solvegraph.tools.lean import judged_statement, lean, problem_statement

DEFS = """prelude
inductive N where
  | z : N
  | s : N → N
inductive Eq2 {a : Type} : a → a → Prop where
  | refl (x : a) : Eq2 x x
"""
ASKED = DEFS + "theorem two_refl : Eq2 (N.s N.z) (N.s N.z) := by sorry\n"
PROBLEM = f"Prove the following in Lean 4 (no Mathlib, a prelude file).\n\n```lean\n{ASKED}```\n"


@pytest.fixture
def session(lean_binary: str):
    with ToolSession(options={"lean_path": lean_binary, "lean_timeout": 60}) as s:
        yield s


def attempt(session: ToolSession, statement: str, proof: str) -> list[dict[str, Any]]:
    """The attempt's tool calls as the verifier sees them: the model's lean call, judged by the tool."""
    arguments = {"proof": proof, "statement": statement}
    result = lean.run(arguments, session)
    assert result.ok, result.error  # the judge accepts the proof of the model's own statement
    return [{"name": "lean", "arguments": arguments, "result": result.to_dict()}]


def test_statement_as_asked_is_verified_as_before(session) -> None:
    said = judged_statement(
        PROBLEM, attempt(session, ASKED, DEFS + "theorem two_refl : Eq2 (N.s N.z) (N.s N.z) := Eq2.refl _\n")
    )
    assert said and said["accepted"] is True and "problem's own statement" in said["feedback"]


def test_renamed_and_unfolded_paraphrase_is_verified_by_lean(session) -> None:
    """Another name, and the type through a definition of the model's own: equal up to unfolding."""
    mine = DEFS + "def one : N := N.s N.z\ntheorem one_refl : Eq2 one one := by sorry\n"
    proof = DEFS + "def one : N := N.s N.z\ntheorem one_refl : Eq2 one one := Eq2.refl one\n"
    said = judged_statement(PROBLEM, attempt(session, mine, proof))
    assert said and said["accepted"] is True, said
    assert "paraphrase" in said["feedback"] and "one_refl" in said["feedback"]
    assert "kernel_replay: passed" in said["feedback"]


def test_weaker_paraphrase_is_rejected(session) -> None:
    easier = DEFS + "theorem two_refl : Eq2 N.z N.z := by sorry\n"
    said = judged_statement(PROBLEM, attempt(session, easier, DEFS + "theorem two_refl : Eq2 N.z N.z := Eq2.refl _\n"))
    assert said and said["accepted"] is False
    assert "does not prove the asked statement" in said["feedback"] and "exactly as the problem" in said["feedback"]


def test_problem_without_a_lean_statement_stays_model_accepted(session) -> None:
    calls = attempt(session, ASKED, DEFS + "theorem two_refl : Eq2 (N.s N.z) (N.s N.z) := Eq2.refl _\n")
    said = judged_statement("Show that the successor of zero equals itself.", calls)
    assert said is not None and "accepted" not in said
    assert "contains no Lean statement" in said["feedback"]


def test_problem_statement_is_read_from_a_lean_block_or_the_whole_text() -> None:
    assert problem_statement(PROBLEM) == ASKED
    assert problem_statement(ASKED) == ASKED
    assert problem_statement("Prove that 1 + 1 = 2.") is None
    assert problem_statement("```lean\n-- nothing asked\n```\nProve it.") is None

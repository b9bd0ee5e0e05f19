"""Lean certificates with the real test ``lean``: issued by the lean-judge verifier, re-judged by
``solvegraph verify``'s checker (each Lean run and the kernel replay in its own sandbox), and refuted when
tampered with."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from solvegraph.plugins import PluginManager, ToolSession
from solvegraph.plugins._certify import MALFORMED, REFUTED, VERIFIED, verify_all
from solvegraph.tools.lean import judged_statement, lean
from solvegraph.types import Certificate
from tests.conftest import run_cli

DEFS = """prelude
inductive N where
  | z : N
  | s : N → N
inductive Eq2 {a : Type} : a → a → Prop where
  | refl (x : a) : Eq2 x x
"""
ASKED = DEFS + "theorem two_refl : Eq2 (N.s N.z) (N.s N.z) := by sorry\n"
PROOF = DEFS + "theorem two_refl : Eq2 (N.s N.z) (N.s N.z) := Eq2.refl _\n"
PROBLEM = f"Prove the following in Lean 4 (no Mathlib, a prelude file).\n\n```lean\n{ASKED}```\n"


@pytest.fixture(scope="module")
def issued(lean_binary: str) -> dict[str, Any]:
    """The certificates the verifier issues for the asked statement and for a paraphrase of it."""
    out = {}
    with ToolSession(options={"lean_path": lean_binary, "lean_timeout": 60}) as session:
        for label, statement, proof in (
            ("asked", ASKED, PROOF),
            (
                "paraphrase",
                DEFS + "def one : N := N.s N.z\ntheorem one_refl : Eq2 one one := by sorry\n",
                DEFS + "def one : N := N.s N.z\ntheorem one_refl : Eq2 one one := Eq2.refl one\n",
            ),
        ):
            arguments = {"proof": proof, "statement": statement}
            result = lean.run(arguments, session)
            assert result.ok, result.error
            said = judged_statement(PROBLEM, [{"name": "lean", "arguments": arguments, "result": result.to_dict()}])
            assert said and said["accepted"] is True, said
            out[label] = Certificate.from_dict(said["certificate"]).to_dict()
    return out


def _verify(cert: dict[str, Any], lean_binary: str) -> Any:
    checkers = PluginManager().certificate_checkers()
    (report,) = verify_all([("test", cert)], checkers, tool_options={"lean": {"lean_path": lean_binary}})
    return report


def test_the_judge_issues_a_certificate_with_sources_toolchain_axioms_and_replay(issued) -> None:
    cert = issued["asked"]
    assert cert["kind"] == "lean" and cert["verifier"] == "lean-judge"
    assert cert["artifacts"]["statement.lean"] == ASKED and cert["artifacts"]["candidate.lean"] == PROOF
    assert "SolvegraphStatement" in cert["artifacts"]["challenge.lean"]
    claim = cert["claim"]
    assert claim["theorems"] == ["two_refl"] and claim["axioms"] == {"two_refl": []}
    assert claim["kernel_replay"] == "passed" and "4.35.0" in claim["toolchain"]
    assert issued["paraphrase"]["claim"]["candidate_names"] == ["one_refl"]
    assert issued["paraphrase"]["artifacts"]["statement.lean"] == ASKED, "the problem's statement, not the model's"


@pytest.mark.parametrize("label", ["asked", "paraphrase"])
def test_verify_re_judges_a_genuine_certificate(issued, lean_binary: str, label: str) -> None:
    report = _verify(issued[label], lean_binary)
    assert report.outcome == VERIFIED, report
    outcomes = {c["check"]: c["outcome"] for c in report.checks}
    assert outcomes == {"toolchain": "passed", "judge": "passed", "axioms": "passed", "kernel replay": "passed"}


def test_a_proof_of_another_statement_is_refuted(issued, lean_binary: str) -> None:
    bad = copy.deepcopy(issued["asked"])
    bad["artifacts"]["candidate.lean"] = DEFS + "theorem two_refl : Eq2 N.z N.z := Eq2.refl _\n"
    report = _verify(bad, lean_binary)
    assert report.outcome == REFUTED
    judge = next(c for c in report.checks if c["check"] == "judge")
    assert judge["outcome"] == "failed" and "does not prove the asked statement" in judge["detail"]


def test_an_edited_axiom_list_is_refuted(issued, lean_binary: str) -> None:
    bad = copy.deepcopy(issued["asked"])
    bad["claim"]["axioms"] = {"two_refl": ["propext"]}
    report = _verify(bad, lean_binary)
    assert report.outcome == REFUTED
    axioms = next(c for c in report.checks if c["check"] == "axioms")
    assert axioms["outcome"] == "failed" and "Lean reports two_refl: none" in axioms["detail"]


def test_a_sorry_smuggled_into_the_candidate_is_refuted(issued, lean_binary: str) -> None:
    bad = copy.deepcopy(issued["asked"])
    bad["artifacts"]["candidate.lean"] = ASKED
    assert _verify(bad, lean_binary).outcome == REFUTED


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda c: c["artifacts"].pop("statement.lean"), "artifacts.statement.lean: missing"),
        (lambda c: c["artifacts"].update({"candidate.lean": "  \n"}), "artifacts.candidate.lean: not Lean source"),
        (lambda c: c["claim"].update({"candidate_names": "one_refl"}), "claim.candidate_names"),
        (lambda c: c["claim"].update({"axioms": ["propext"]}), "claim.axioms"),
    ],
)
def test_a_malformed_certificate_names_its_field(issued, lean_binary: str, edit, field: str) -> None:
    bad = copy.deepcopy(issued["asked"])
    edit(bad)
    report = _verify(bad, lean_binary)
    assert report.outcome == MALFORMED and field in report.detail, report


def test_without_a_lean_the_certificate_is_not_verified(issued, tmp_path) -> None:
    cert = copy.deepcopy(issued["asked"])
    cert["provenance"]["toolchain"]["command"] = [str(tmp_path / "no-lean")]
    checkers = PluginManager().certificate_checkers()
    missing = str(tmp_path / "missing-lean")
    (report,) = verify_all([("test", cert)], checkers, tool_options={"lean": {"lean_path": missing}})
    assert report.outcome == REFUTED and "nothing was verified" in report.detail
    assert report.checks[0]["outcome"] == "not checked" and "not an executable" in report.checks[0]["detail"]


def test_solvegraph_verify_reads_a_lean_certificate_from_stdin(issued, lean_binary: str) -> None:
    done = run_cli("verify", "-", "--json", input=json.dumps(issued["asked"]), env={"SOLVEGRAPH_LEAN": lean_binary})
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["outcome"] == "verified" and [c["kind"] for c in report["certificates"]] == ["lean"]
    assert {c["check"] for c in report["certificates"][0]["checks"]} >= {"judge", "kernel replay"}

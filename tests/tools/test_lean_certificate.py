"""Lean certificates with the real test ``lean``: issued by the lean-judge verifier, re-judged by
``solvegraph verify``'s checker (each Lean run and the kernel replay in its own sandbox), and refuted when
tampered with."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from solvegraph.memory import Store
from solvegraph.plugins import PluginManager, ToolSession
from solvegraph.plugins._certify import MALFORMED, REFUTED, VERIFIED, verify_all
from solvegraph.tools.lean import judged_statement, lean
from solvegraph.types import Certificate, Trajectory
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


def _verify(cert: dict[str, Any], lean_binary: str, **lean_options: Any) -> Any:
    checkers = PluginManager().certificate_checkers()
    options = {"lean": {"lean_path": lean_binary, **lean_options}}
    (report,) = verify_all([("test", cert)], checkers, tool_options=options)
    return report


def _check(report: Any, name: str) -> dict[str, str]:
    return next(c for c in report.checks if c["check"] == name)


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
    judge = _check(report, "judge")["detail"]  # what was proven: the asked theorem and the statement's digest
    digest = hashlib.sha256(ASKED.encode()).hexdigest()
    assert f"statement.lean (sha256 {digest[:12]}): theorem two_refl : Eq2 (N.s N.z) (N.s N.z);" in judge
    assert issued[label]["claim"]["statement_sha256"] == digest


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
        (lambda c: c["claim"].update({"theorems": "two_refl"}), "claim.theorems: not a list of theorem names"),
        (lambda c: c["claim"].pop("theorems"), "claim.theorems: missing"),
        (lambda c: c["claim"].update({"kernel_replay": True}), "claim.kernel_replay: not a string"),
        (lambda c: c["provenance"].update({"toolchain": "lean"}), "provenance.toolchain: not an object"),
        (lambda c: c["provenance"]["toolchain"].update({"command": "lean"}), "provenance.toolchain.command"),
        (lambda c: c["provenance"].update({"kernel_replay": ["passed"]}), "provenance.kernel_replay"),
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


def test_a_malformed_provenance_exits_2_with_one_line_naming_the_field(issued, lean_binary: str) -> None:
    bad = copy.deepcopy(issued["asked"])
    bad["provenance"]["toolchain"] = "lean 4.35"
    done = run_cli("verify", "-", input=json.dumps(bad), env={"SOLVEGRAPH_LEAN": lean_binary})
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.strip() == "malformed: provenance.toolchain: not an object" and not done.stdout.strip()


@pytest.mark.parametrize("recorded", ["absolute", "relative"])
def test_the_lean_a_certificate_records_is_never_run(issued, tmp_path: Path, recorded: str) -> None:
    """No Lean of the verifying user's: the certificate is not checked, and the lean (and leanchecker) it
    names in its provenance never run, not even for ``--version``."""
    marker = tmp_path / "ran"
    fake = tmp_path / "fake" / "bin"
    fake.mkdir(parents=True)
    for name in ("lean", "leanchecker"):
        (fake / name).write_text(f"#!/bin/sh\necho \"$@\" >> {marker}\necho 'Lean (version 4.35.0)'\nexit 0\n")
        (fake / name).chmod(0o755)
    cert = copy.deepcopy(issued["asked"])
    cert["provenance"]["toolchain"]["command"] = [str(fake / "lean") if recorded == "absolute" else "./lean"]
    cert["provenance"]["toolchain"]["project"] = None
    path = ":".join(d for d in os.environ.get("PATH", "").split(":") if d and not (Path(d) / "lean").exists())
    done = run_cli("verify", "-", input=json.dumps(cert), env={"PATH": path}, cwd=fake)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert not marker.exists(), marker.read_text()
    lines = done.stdout.splitlines()
    assert lines[0].startswith("not checked  lean: no Lean toolchain: set lean_path"), lines
    assert "SOLVEGRAPH_LEAN" in lines[0] and not any(line.startswith("passed") for line in lines)
    assert lines[-1] == "refuted: 1 refuted (1 certificate)"


def test_an_edited_claim_theorems_is_refuted(issued, lean_binary: str) -> None:
    bad = copy.deepcopy(issued["asked"])
    bad["claim"]["theorems"] = ["fermat_last_theorem"]
    report = _verify(bad, lean_binary)
    assert report.outcome == REFUTED
    claim = _check(report, "claim.theorems")
    assert (
        claim["outcome"] == "failed"
        and "claims fermat_last_theorem; statement.lean asks for two_refl" in claim["detail"]
    )
    done = run_cli("verify", "-", input=json.dumps(bad), env={"SOLVEGRAPH_LEAN": lean_binary})
    assert done.returncode == 1 and "failed       claim.theorems: " in done.stdout, (done.stdout, done.stderr)


def test_edited_candidate_names_are_refuted(issued, lean_binary: str) -> None:
    bad = copy.deepcopy(issued["paraphrase"])
    bad["claim"]["candidate_names"] = ["fermat_last_theorem"]
    report = _verify(bad, lean_binary)
    assert report.outcome == REFUTED
    names = _check(report, "claim.candidate_names")
    assert names["outcome"] == "failed" and "fermat_last_theorem: not a theorem of candidate.lean" in names["detail"]


TRIVIAL = "prelude\ntheorem t (p : Prop) (h : p) : p := by sorry\n"
TRIVIAL_PROOF = "prelude\ntheorem t (p : Prop) (h : p) : p := h\n"


def test_a_swapped_statement_with_the_claim_kept_is_refuted(issued, lean_binary: str) -> None:
    """A trivial statement and its proof under a genuine claim: Lean accepts the proof, but the claim is not
    about that statement, and the judge line shows what was proven."""
    bad = copy.deepcopy(issued["asked"])
    bad["artifacts"].update({"statement.lean": TRIVIAL, "candidate.lean": TRIVIAL_PROOF})
    report = _verify(bad, lean_binary)
    assert report.outcome == REFUTED
    assert _check(report, "claim.theorems")["outcome"] == "failed"
    assert _check(report, "claim.statement_sha256")["outcome"] == "failed"
    assert "theorem t (p : Prop) (h : p) : p" in _check(report, "judge")["detail"]


def test_replay_the_verifier_cannot_make_is_not_claimed(issued, lean_binary: str) -> None:
    report = _verify(issued["asked"], lean_binary, replay=False)
    assert report.outcome == VERIFIED  # the compile and the statement check passed; the replay is not claimed
    replay = _check(report, "kernel replay")
    assert (
        replay["outcome"] == "not checked"
        and "the certificate's claim (passed) is not re-established" in replay["detail"]
    )
    assert _check(report, "judge")["detail"].endswith("(the compile alone: no kernel replay here)")


@pytest.fixture
def stored(issued, tmp_path: Path) -> dict[str, Any]:
    """A store with the genuine certificate under its own problem, and the same certificate under a
    trajectory whose problem asks for another statement (a certificate moved to another problem), and a
    certificate of a trivial statement whose claim is consistent with it, under the asked problem."""
    url = f"sqlite:///{tmp_path}/memory.sqlite"
    store = Store(url)
    run = store.start_run("solve", "m")
    other = "Prove this in Lean 4.\n\n```lean\nprelude\ntheorem hard (p : Prop) : p := by sorry\n```\n"
    own, moved, swapped = (
        Trajectory(problem=p, model="m", answer="proved", status="solved") for p in (PROBLEM, other, PROBLEM)
    )
    store.save_many([(t, run, None) for t in (own, moved, swapped)])
    trivial = copy.deepcopy(issued["asked"])
    trivial["artifacts"] = {"statement.lean": TRIVIAL, "candidate.lean": TRIVIAL_PROOF}
    trivial["claim"].update(
        theorems=["t"], axioms={"t": []}, statement_sha256=hashlib.sha256(TRIVIAL.encode()).hexdigest()
    )
    store.save_certificates(
        [
            Certificate.from_dict({**cert, "trajectory_id": t.id, "id": uuid.uuid4().hex})
            for t, cert in ((own, issued["asked"]), (moved, issued["asked"]), (swapped, trivial))
        ]
    )
    store.close()
    return {"url": url, "own": own.id, "moved": moved.id, "swapped": swapped.id}


def test_verify_from_the_store_binds_the_statement_to_the_problem(stored, lean_binary: str) -> None:
    env = {"SOLVEGRAPH_LEAN": lean_binary}
    done = run_cli("verify", stored["own"], "--db", stored["url"], env=env)
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "passed       statement: the problem's own Lean statement" in done.stdout
    for label in ("moved", "swapped"):
        done = run_cli("verify", stored[label], "--db", stored["url"], env=env)
        assert done.returncode == 1, (label, done.stdout, done.stderr)
        assert "failed       statement: not the problem's own statement" in done.stdout, (label, done.stdout)
        assert "passed       judge: " in done.stdout  # Lean accepts the proof: only the binding refutes it


def test_a_judge_cut_short_by_the_time_limit_verifies_nothing(lean_binary: str) -> None:
    """A proof whose checking takes far longer than ``--time-limit``: the whole check keeps to the limit (each
    Lean run at least 1 s), the judge is not checked, and no other line passes in its place (not even the
    toolchain's matching version)."""
    import time

    from solvegraph.tools.lean._replay import toolchain

    n = "N.z"
    for _ in range(22):
        n = f"(N.s {n})"
    head = DEFS + (
        "set_option maxHeartbeats 0\nset_option maxRecDepth 1000000\n"
        "noncomputable def add (a b : N) : N := N.rec a (fun _ ih => N.s ih) b\n"
        "noncomputable def p2 (n : N) : N := N.rec (N.s N.z) (fun _ ih => add ih ih) n\n"
        "noncomputable def p2' (n : N) : N := N.rec (N.s N.z) (fun _ ih => add ih (add ih N.z)) n\n"
        f"theorem slow : Eq2 (p2 {n}) (p2' {n})"
    )
    statement = head + " := by sorry\n"
    cert = {
        "kind": "lean",
        "claim": {
            "theorems": ["slow"],
            "axioms": {"slow": []},
            "kernel_replay": "passed",
            "toolchain": toolchain([lean_binary], None).version,
            "statement_sha256": hashlib.sha256(statement.encode()).hexdigest(),
        },
        "artifacts": {"statement.lean": statement, "candidate.lean": head + " := Eq2.refl _\n"},
    }
    checkers = PluginManager().certificate_checkers()
    started = time.monotonic()
    (report,) = verify_all(
        [("test", cert)], checkers, tool_options={"lean": {"lean_path": lean_binary}}, time_limit=2.0
    )
    assert time.monotonic() - started < 20, "the check did not keep to its time limit"
    assert report.outcome == REFUTED, report
    assert _check(report, "judge")["outcome"] == "not checked" and "time limit" in _check(report, "judge")["detail"]
    assert not [c for c in report.checks if c["outcome"] == "passed"], report.checks

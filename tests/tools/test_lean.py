"""The lean tool against a real Lean 4 binary (prelude files: see the lean_binary fixture)."""

from __future__ import annotations

import pytest

from solvegraph.plugins import ToolSession
from solvegraph.testing import assert_conformant
from solvegraph.tools.lean import check_proof, lean, theorem_header
from tests.conftest import DATA

PRELUDE = """prelude
inductive N where
  | z : N
  | s : N → N
inductive Eq2 {a : Type} : a → a → Prop where
  | refl (x : a) : Eq2 x x
"""
STATEMENT = PRELUDE + "theorem refl_z : Eq2 N.z N.z := by sorry\n"


def slow_source(k: int = 22) -> str:
    """Unary powers of two compared by defeq: exponential in k (k=16 takes ~10 s here)."""
    n = "N.z"
    for _ in range(k):
        n = f"(N.s {n})"
    return (
        PRELUDE
        + f"""set_option maxHeartbeats 0
set_option maxRecDepth 1000000
noncomputable def add (a b : N) : N := N.rec a (fun _ ih => N.s ih) b
noncomputable def p2 (n : N) : N := N.rec (N.s N.z) (fun _ ih => add ih ih) n
noncomputable def p2' (n : N) : N := N.rec (N.s N.z) (fun _ ih => add ih (add ih N.z)) n
theorem slow : Eq2 (p2 {n}) (N.s (p2' {n})) := Eq2.refl _
"""
    )


@pytest.fixture
def session(lean_binary: str):
    with ToolSession(options={"lean_path": lean_binary, "lean_timeout": 30}) as s:
        yield s


def test_valid_prelude_theorem_is_accepted(session) -> None:
    r = lean.run({"proof": PRELUDE + "theorem refl_z : Eq2 N.z N.z := Eq2.refl N.z\n", "statement": STATEMENT}, session)
    assert r.ok, r.error
    assert r.data["accepted"] and r.data["axioms"] == {"refl_z": []}
    assert r.output.splitlines()[-1] == "accepted"


def test_false_theorem_is_rejected_with_the_diagnostic(session) -> None:
    bad = PRELUDE + "theorem wrong : Eq2 N.z (N.s N.z) := Eq2.refl N.z\n"
    r = lean.run({"proof": bad, "theorem": "wrong"}, session)
    assert not r.ok and not r.data["accepted"]
    first = r.data["diagnostics"][0]
    assert first["severity"] == "error" and first["line"] == 7 and "Type mismatch" in first["text"]
    assert "line 7:" in r.error


def test_proof_resting_on_a_declared_axiom_is_rejected(session) -> None:
    cheat = PRELUDE + "axiom cheat (p : Prop) : p\ntheorem refl_z : Eq2 N.z N.z := cheat _\n"
    r = lean.run({"proof": cheat, "statement": STATEMENT}, session)
    assert not r.ok and r.data["checks"] == {
        "allowlist": "rejected",
        "kernel_replay": "not run: the candidate was rejected before it could be replayed",
    }
    assert "line 7: 'axiom' is not accepted" in r.error


def test_sorry_is_rejected(session) -> None:
    r = lean.run({"proof": PRELUDE + "theorem refl_z : Eq2 N.z N.z := sorry\n", "statement": STATEMENT}, session)
    assert not r.ok and "line 7: the proof uses 'sorry'" in r.error
    r = lean.run({"proof": PRELUDE + "theorem refl_z : Eq2 N.z N.z := by\n  admit\n", "statement": STATEMENT}, session)
    assert not r.ok and "the proof uses 'admit'" in r.error
    # A sorry inside a comment is not a use of sorry.
    commented = PRELUDE + "-- no sorry here\ntheorem refl_z : Eq2 N.z N.z := Eq2.refl N.z /- sorry -/\n"
    assert lean.run({"proof": commented, "statement": STATEMENT}, session).ok


def test_changed_statement_is_rejected(session) -> None:
    weaker = PRELUDE + "theorem refl_z : Eq2 (N.s N.z) (N.s N.z) := Eq2.refl _\n"
    r = lean.run({"proof": weaker, "statement": STATEMENT}, session)
    assert not r.ok and "does not prove the asked statement of refl_z" in r.error
    assert r.data["checks"]["statement"] == "mismatch"
    missing = PRELUDE + "theorem other : Eq2 N.z N.z := Eq2.refl _\n"
    r = lean.run({"proof": missing, "statement": STATEMENT}, session)
    assert not r.ok and "does not prove the asked statement of refl_z" in r.error


def test_timeout_is_a_verdict_not_a_hang(lean_binary: str) -> None:
    verdict = check_proof(slow_source(), theorem="slow", options={"lean_path": lean_binary, "lean_timeout": 3})
    assert verdict.timed_out and not verdict.accepted and "timeout" in verdict.reasons[-1]


def test_memory_limit_is_enforced(lean_binary: str) -> None:
    verdict = check_proof(
        slow_source(20), theorem="slow", options={"lean_path": lean_binary, "lean_timeout": 60, "lean_memory_mb": 64}
    )
    assert not verdict.accepted and not verdict.timed_out
    assert any("memory" in d.text.lower() for d in verdict.diagnostics), verdict.diagnostics


def test_unparseable_source_gives_diagnostics(session) -> None:
    r = lean.run({"proof": PRELUDE + "theorem refl_z : Eq2 N.z N.z := (\n", "statement": STATEMENT}, session)
    first = r.data["diagnostics"][0]
    assert not r.ok and first["severity"] == "error" and first["line"] == 7
    assert "unexpected" in first["text"] and "unfinished" in first["text"]


def test_missing_toolchain_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("SOLVEGRAPH_LEAN", raising=False)
    monkeypatch.delenv("SOLVEGRAPH_LEAN_PROJECT", raising=False)
    with ToolSession() as s:
        r = lean.run({"proof": PRELUDE, "theorem": "x"}, s)
    assert not r.ok and "lean_path" in r.error and "lean_project" in r.error
    with ToolSession(options={"lean_project": "/tmp"}) as s:
        assert "not a Lake project" in lean.run({"proof": PRELUDE, "theorem": "x"}, s).error


def test_minif2f_headers_parse() -> None:

    text = (DATA / "minif2f_lean4/Test/aime_1983_p1.lean").read_text()
    header = theorem_header(text, "aime_1983_p1")
    assert header.startswith("theorem aime_1983_p1 (x y z w : ℕ)") and header.endswith("= 60")


def test_lean_is_conformant(lean_binary: str) -> None:
    assert_conformant(
        lean,
        {"proof": PRELUDE + "theorem t : Eq2 N.z N.z := Eq2.refl _\n", "theorem": "t"},
        invalid={"proof": 5},
        slow={"proof": slow_source(), "theorem": "slow"},
        session_options={"lean_path": lean_binary, "lean_timeout": 2},
    )

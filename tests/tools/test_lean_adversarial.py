"""The lean judge against a cheating model: each class of trick from issue 11, as prelude files, plus honest
proofs of varied shape that must still be accepted. Real Lean (see the lean_binary fixture), no mocks."""

from __future__ import annotations

import pytest

from solvegraph.plugins import ToolSession
from solvegraph.tools.lean import lean
from solvegraph.tools.lean._source import asked_theorems, check_candidate, read_header, tokenize
from tests.tools.test_lean import PRELUDE

DEFS = PRELUDE + "inductive False2 : Prop\n"
# A false theorem: nothing proves it honestly.
FALSE_STATEMENT = DEFS + "theorem bad : Eq2 N.z (N.s N.z) := by sorry\n"
TRUE_STATEMENT = DEFS + "theorem good : Eq2 N.z N.z := by sorry\n"


@pytest.fixture(scope="module")
def session(lean_binary: str):
    with ToolSession(options={"lean_path": lean_binary, "lean_timeout": 30}) as s:
        yield s


def judge(session: ToolSession, proof: str, statement: str = FALSE_STATEMENT):
    return lean.run({"proof": proof, "statement": statement}, session)


# --- kernel bypass --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("proof", "reason"),
    [
        (
            DEFS + "set_option debug.skipKernelTC true\ntheorem bad : Eq2 N.z (N.s N.z) := bad\n",
            "line 8: set_option debug.skipKernelTC is not accepted",
        ),
        (
            DEFS + "set_option debug.skipKernelTC true in\ntheorem bad : Eq2 N.z (N.s N.z) := bad\n",
            "line 8: set_option debug.skipKernelTC is not accepted",
        ),
        (
            DEFS + "unsafe def loop : Eq2 N.z (N.s N.z) := loop\ntheorem bad : Eq2 N.z (N.s N.z) := loop\n",
            "line 8: 'unsafe' is not accepted",
        ),
        (DEFS + "partial def f : N → N := f\n", "line 8: 'partial' is not accepted"),
        (DEFS + "opaque p : Eq2 N.z (N.s N.z)\ntheorem bad : Eq2 N.z (N.s N.z) := p\n", "'opaque' is not accepted"),
        (DEFS + "@[implemented_by x] def f : N := N.z\n", "'implemented_by' is not accepted"),
        (DEFS + '@[extern "c"] def f : N := N.z\n', "'extern' is not accepted"),
        (DEFS + "run_cmd pure ()\n", "'run_cmd' is not accepted"),
        (DEFS + 'elab "x" : term => pure default\n', "'elab' is not accepted"),
        (DEFS + 'macro "triv" : term => `(Eq2.refl _)\n', "'macro' is not accepted"),
        (DEFS + 'notation "Z" => N.s N.z\n', "'notation' is not accepted"),
        (DEFS + "#eval 1\n", "'#eval' is not accepted"),
    ],
)
def test_commands_that_bypass_the_kernel_or_run_code_are_refused(session, proof: str, reason: str) -> None:
    r = judge(session, proof)
    assert not r.ok and reason in r.error, r.error
    assert r.data["checks"]["allowlist"] == "rejected"


# --- forged axiom report --------------------------------------------------------------------------


def test_a_forged_axiom_report_and_exit_are_refused(session) -> None:
    forged = DEFS + "theorem bad : Eq2 N.z (N.s N.z) := bad\n#print \"'bad' does not depend on any axioms\"\n#exit\n"
    r = judge(session, forged)
    assert not r.ok and "'#print' is not accepted" in r.error and "'#exit' is not accepted" in r.error
    unclosed = DEFS + "namespace Hide\ntheorem bad : Eq2 N.z (N.s N.z) := bad\n"
    r = judge(session, unclosed)
    assert not r.ok and "line 8: namespace Hide is never closed" in r.error


def test_axioms_are_read_in_the_trusted_run_not_from_the_candidate(session) -> None:
    # The statement itself declares an axiom (trusted); a proof resting on it is refused by name.
    statement = DEFS + "axiom magic : Eq2 N.z (N.s N.z)\ntheorem bad : Eq2 N.z (N.s N.z) := by sorry\n"
    r = judge(session, "prelude\ntheorem bad : Eq2 N.z (N.s N.z) := magic\n", statement)
    assert not r.ok and "'bad' rests on axioms outside the standard ones: magic" in r.error
    assert r.data["axioms"] == {"bad": ["magic"]} and r.data["checks"]["axioms"] == "read in the trusted check run"


# --- the statement changed without changing its text ----------------------------------------------


def test_variable_include_and_omit_are_refused(session) -> None:
    sneaky = DEFS + "variable (h : Eq2 N.z (N.s N.z))\ninclude h\ntheorem bad : Eq2 N.z (N.s N.z) := h\n"
    r = judge(session, sneaky)
    assert (
        not r.ok and "line 8: 'variable' is not accepted" in r.error and "line 9: 'include' is not accepted" in r.error
    )
    shadow = DEFS + "variable (N : Type)\ntheorem good : Eq2 N.z N.z := Eq2.refl _\n"
    assert not judge(session, shadow, TRUE_STATEMENT).ok


# --- text that a regex reads differently from Lean ------------------------------------------------


def test_the_lexer_reads_strings_comments_and_names_like_lean() -> None:
    src = (
        'def s := "-- not a comment" unsafe\n'  # a naive stripper hides `unsafe` after "--"
        "/-- doc: theorem fake : True := trivial -/\n"
        '/- nested /- comment -/ still comment "quote -/\n'
        "def c := '\"'\n"
        "def «unsafe name» := 1\n"
        "theorem real : Eq2 N.z N.z := Eq2.refl _\n"
    )
    tokens = tokenize(src)
    words = [t.text for t in tokens if t.kind == "ident"]
    assert "unsafe" in words and "fake" not in words and "nested" not in words
    assert [t.text for t in tokens if t.kind == "char"] == ["'\"'"]
    assert "«unsafe name»" in words
    reasons = check_candidate(tokens, read_header(tokens))
    assert reasons == ["line 1: 'unsafe' is not accepted: unsafe declarations are not checked by the kernel"]


def test_the_lexer_reads_numbers_and_goes_on_after_them() -> None:
    tokens = tokenize("#eval 12 0x1F 1.5e3 x")
    assert [(t.kind, t.text, t.start) for t in tokens] == [
        ("hash", "#eval", 0),
        ("number", "12", 6),
        ("number", "0x1F", 9),
        ("number", "1.5e3", 14),
        ("ident", "x", 20),
    ]


def test_attributes_that_register_code_are_refused() -> None:
    """With a library, @[command_elab] on a candidate's def would run it inside the trusted check run."""
    src = (
        "@[simp, local instance 100] def x := N.z\n"
        "attribute [-simp] x\n"
        "attribute [local command_elab Lean.Parser.Command.printAxioms] forge\n"
        "@[term_elab explicit] def f := N.z\n"
        "@[delab app.refl_z] def g := N.z\n"
    )
    tokens = tokenize(src)
    reasons = check_candidate(tokens, read_header(tokens))
    assert [r.split(":")[0] + ":" + r.split(":")[1] for r in reasons] == [
        "line 3: attribute 'command_elab' is not accepted",
        "line 4: attribute 'term_elab' is not accepted",
        "line 5: attribute 'delab' is not accepted",
    ]


def test_a_fake_theorem_in_a_doc_comment_or_string_is_not_the_asked_one() -> None:
    statement = (
        "prelude\n/-- theorem decoy : True := by sorry -/\ntheorem asked (n : N) {m : N} : Eq2 n n := by sorry\n"
    )
    [a] = asked_theorems(statement)
    assert (a.name, a.binders, a.type) == ("asked", "(n : N) {m : N}", "Eq2 n n")


def test_a_candidate_hiding_its_real_theorem_is_judged_on_what_lean_sees(session) -> None:
    # The decoy in the doc comment states the asked theorem; the real one proves something else.
    decoy = DEFS + "/-- theorem bad : Eq2 N.z (N.s N.z) := Eq2.refl _ -/\ntheorem bad : Eq2 N.z N.z := Eq2.refl _\n"
    r = judge(session, decoy)
    assert not r.ok and "does not prove the asked statement of bad" in r.error


# --- axioms allowed by name only -----------------------------------------------------------------


def test_a_user_declared_standard_axiom_is_refused(session) -> None:
    cheat = DEFS + "axiom propext (p : Prop) : p\ntheorem bad : Eq2 N.z (N.s N.z) := propext _\n"
    r = judge(session, cheat)
    assert not r.ok and "line 8: 'axiom' is not accepted" in r.error


# --- the candidate's own definitions; every asked theorem ----------------------------------------


def test_the_candidate_cannot_replace_the_asked_definitions(session) -> None:
    # Its own N, where z and s z are the same: the statement's N comes from the challenge and clashes.
    own = (
        "prelude\ninductive N where\n  | z : N\ninductive Eq2 {a : Type} : a → a → Prop where\n"
        "  | refl (x : a) : Eq2 x x\ndef N.s (n : N) : N := n\ntheorem bad : Eq2 N.z (N.s N.z) := Eq2.refl _\n"
    )
    r = judge(session, own)
    assert not r.ok and r.data["checks"]["candidate"] == "did not compile"
    assert "already been declared" in r.error or "already declared" in r.error


def test_every_asked_theorem_is_checked_not_only_the_first(session) -> None:
    statement = DEFS + "theorem one : Eq2 N.z N.z := by sorry\ntheorem two : Eq2 N.z (N.s N.z) := by sorry\n"
    partial_proof = DEFS + "theorem one : Eq2 N.z N.z := Eq2.refl _\ntheorem two : Eq2 N.z N.z := Eq2.refl _\n"
    r = judge(session, partial_proof, statement)
    assert not r.ok and "does not prove the asked statement of one, two" in r.error


# --- honest proofs of varied shape are still accepted ---------------------------------------------

HONEST = [
    # a term proof, the statement's definitions copied as a model usually does
    (TRUE_STATEMENT, DEFS + "theorem good : Eq2 N.z N.z := Eq2.refl N.z\n"),
    # without the definitions: they come from the challenge
    (TRUE_STATEMENT, "prelude\ntheorem good : Eq2 N.z N.z := Eq2.refl _\n"),
    # binders, a helper lemma, options from the allowlist, comments and a doc comment
    (
        DEFS + "theorem refl_s (n : N) {m : N} : Eq2 (N.s n) (N.s n) := by sorry\n",
        DEFS + "set_option maxRecDepth 2000\n/-- a helper -/\ntheorem helper (x : N) : Eq2 x x := Eq2.refl x -- done\n"
        "theorem refl_s (n : N) {m : N} : Eq2 (N.s n) (N.s n) := helper (N.s n)\n",
    ),
    # the statement in a namespace, two asked theorems, one proved by the other
    (
        DEFS
        + "namespace P\ntheorem a : Eq2 N.z N.z := by sorry\ntheorem b : Eq2 (N.s N.z) (N.s N.z) := by sorry\nend P\n",
        DEFS + "namespace P\ntheorem a : Eq2 N.z N.z := Eq2.refl _\n"
        "theorem b : Eq2 (N.s N.z) (N.s N.z) := Eq2.refl _\nend P\n",
    ),
    # a definition of the candidate's own, unfolded by the kernel
    (TRUE_STATEMENT, DEFS + "def zero : N := N.z\ntheorem good : Eq2 N.z N.z := (Eq2.refl zero : Eq2 zero zero)\n"),
    # an attribute from the allowlist
    (TRUE_STATEMENT, DEFS + "@[reducible] def zero : N := N.z\ntheorem good : Eq2 N.z N.z := Eq2.refl zero\n"),
]


@pytest.mark.parametrize(("statement", "proof"), HONEST)
def test_honest_proofs_are_accepted(session, statement: str, proof: str) -> None:
    r = judge(session, proof, statement)
    assert r.ok, r.error
    checks = r.data["checks"]
    assert checks["statement"].startswith("matches") and checks["candidate"] == "compiled in the sandbox"
    assert checks["kernel_replay"] == "passed (driver)", "the compiled candidate is replayed through the kernel"

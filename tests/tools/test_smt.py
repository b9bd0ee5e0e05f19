"""The smt tool against real Z3."""

from __future__ import annotations

import pytest
import z3

from solvegraph.plugins import ToolSession
from solvegraph.testing import assert_conformant
from solvegraph.tools.smt.host import smt

DECLS = "(declare-const x Int) (declare-const y Int)"
HARD = (
    "(declare-const a Int)(declare-const b Int)(declare-const c Int)"
    "(assert (> a 0))(assert (> b 0))(assert (> c 0))(assert (= (+ (* a a a) (* b b b)) (* c c c)))"
)


def test_sat_returns_a_model() -> None:
    r = smt.run(
        {
            "declarations": DECLS,
            "assertions": [{"name": "sum", "formula": "(= (+ x y) 10)"}, {"name": "diff", "formula": "(= (- x y) 4)"}],
        }
    )
    assert r.ok and r.data["status"] == "sat"
    assert r.data["model"] == {"x": "7", "y": "3"}, "tracking literals are not part of the model"
    assert r.output.splitlines()[-1] == "sat"


def test_unsat_core_names_the_conflicting_assertions() -> None:
    r = smt.run(
        {
            "declarations": DECLS,
            "assertions": [
                {"name": "budget", "formula": "(<= (+ x y) 10)"},
                {"name": "x_min", "formula": "(>= x 8)"},
                {"name": "y_min", "formula": "(>= y 5)"},
                {"name": "unrelated", "formula": "(> x 0)"},
            ],
        }
    )
    assert r.ok and r.data["status"] == "unsat"
    assert r.data["unsat_core"] == ["budget", "x_min", "y_min"]
    assert "conflicting assertions: budget, x_min, y_min" in r.output


def test_smtlib_text_with_named_assertions() -> None:
    text = """; a comment with (parens
(declare-const x Int)
(assert (! (> x 5) :named lo))
(assert (! (< x 2) :named hi))
(assert (>= x 0))
(check-sat)
(get-unsat-core)"""
    r = smt.run({"smtlib": text})
    assert r.data["status"] == "unsat" and r.data["unsat_core"] == ["hi", "lo"]
    r = smt.run({"smtlib": "(declare-const s String)(assert (= (str.len s) 3))"})
    assert r.data["status"] == "sat" and len(r.data["model"]["s"].strip('"')) == 3


def test_syntax_errors_carry_z3_text_and_line() -> None:
    r = smt.run({"smtlib": "(declare-const x Int)\n(assert (> x y))"})
    assert not r.ok and r.error.startswith("SMT-LIB error at line 2, column 13") and "unknown constant y" in r.error
    r = smt.run(
        {
            "declarations": DECLS,
            "assertions": [{"name": "ok", "formula": "(> x 1)"}, {"name": "typo", "formula": "(> x zz)"}],
        }
    )
    assert not r.ok and "in assertion 'typo'" in r.error and "unknown constant zz" in r.error
    r = smt.run({"smtlib": "(declare-const x Int)\n(assert (> x 1)"})
    assert not r.ok and "line 2" in r.error and "unbalanced" in r.error
    # Declarations and asserts are parsed in batches; an error still names its own command's line.
    r = smt.run({"smtlib": "(declare-const x Int)\n(assert (> x 1))\n(declare-const y Foo)\n(assert (> x 2))"})
    assert not r.ok and r.error.startswith("SMT-LIB error at line 3") and "Foo" in r.error, r.error


def test_timeout_is_a_result() -> None:
    r = smt.run({"smtlib": HARD, "timeout": 1})
    assert not r.ok and r.error.startswith("timeout") and r.data["status"] == "timeout"


def test_memory_limit_ends_as_a_result_not_a_crash() -> None:
    # 64 MB cannot even hold Python and Z3: the worker dies, the caller gets a result, this process lives on.
    with ToolSession() as session:
        r = smt.run({"smtlib": HARD, "timeout": 5, "memory_mb": 64}, session)
        assert not r.ok and r.data["status"] in ("memory", "crash")
        assert "memory" in r.error or "failed" in r.error
        again = smt.run({"declarations": DECLS, "assertions": [{"name": "a", "formula": "(> x 1)"}]}, session)
        assert again.ok and again.data["status"] == "sat", "a fresh worker serves the next call"


def test_smt_is_conformant() -> None:
    assert_conformant(
        smt,
        {"declarations": DECLS, "assertions": [{"name": "a", "formula": "(> x 1)"}]},
        slow={"smtlib": HARD, "timeout": 1},
        timeout=1,
    )


# Faithfulness: each answer below is checked independently, with Z3 in this process, not with the tool.


def independently(smtlib: str) -> z3.CheckSatResult:
    solver = z3.Solver(ctx=z3.Context())
    solver.from_string(smtlib)
    return solver.check()


def test_an_assertion_named_like_a_declared_bool_does_not_capture_it() -> None:
    decls = "(declare-const p Bool)(declare-const x Int)"
    asserted = {"p": "(not p)", "lo": "(> x 5)", "hi": "(< x 2)"}
    r = smt.run({"declarations": decls, "assertions": [{"name": k, "formula": f} for k, f in asserted.items()]})
    assert r.data["status"] == "unsat" and r.data["core_checked"]
    core = r.data["unsat_core"]
    assert core and "p" not in core, "(not p) is satisfiable with the rest; it is not part of the conflict"
    script = decls + "".join(f"(assert {asserted[n]})" for n in core)
    assert independently(script) == z3.unsat, "the returned core must itself be unsatisfiable"
    r = smt.run({"declarations": decls, "assertions": [{"name": "p", "formula": "(not p)"}]})
    assert r.data["status"] == "sat" and r.data["model"]["p"] == "False", "the model is the user's p, not a tracker"


def test_push_and_pop_scope_assertions() -> None:
    script = (
        "(declare-const x Int)\n(push 1)\n(assert (> x 5))\n(check-sat)\n(pop 1)\n"
        "(assert (< x 3))\n(check-sat)\n(get-model)"
    )
    r = smt.run({"smtlib": script})
    assert r.ok and [c["status"] for c in r.data["checks"]] == ["sat", "sat"]
    assert int(r.data["model"]["x"]) < 3 and r.data["model_checked"]
    assert r.output.splitlines()[0] == "check-sat 1: sat" and r.output.splitlines()[-1] == "sat"
    assert independently("(declare-const x Int)(assert (< x 3))") == z3.sat
    r = smt.run({"smtlib": "(declare-const x Int)(push)(assert (> x 1))(pop)(pop)(check-sat)"})
    assert not r.ok and "pop 1 with only 0 push" in r.error


def test_check_sat_assuming_is_honoured() -> None:
    base = "(declare-const p Bool)(declare-const q Bool)(assert (or p q))"
    r = smt.run({"smtlib": base + "(check-sat-assuming ((not p) (not q)))"})
    assert r.data["status"] == "unsat"
    assert independently(base + "(assert (not p))(assert (not q))") == z3.unsat
    assert sorted(r.data["unsat_core"]) == ["(not p)", "(not q)"], "the assumptions are the conflict"
    r = smt.run({"smtlib": base + "(check-sat-assuming ((not p)))"})
    assert r.data["status"] == "sat" and r.data["model"]["p"] == "False" and r.data["model"]["q"] == "True"


def test_reset_and_get_value() -> None:
    r = smt.run({"smtlib": "(declare-const x Int)(assert (> x 5))(reset)(declare-const x Bool)(assert x)(check-sat)"})
    assert r.data["status"] == "sat" and r.data["model"] == {"x": "True"}
    r = smt.run({"smtlib": "(declare-const x Int)(assert (= x 4))(check-sat)(get-value ((+ x 1) x))"})
    assert r.data["values"] == {"(+ x 1)": "5", "x": "4"}


@pytest.mark.parametrize("command", ["(get-proof)", "(check-sat-using smt)", "(declare-heap Int Int)"])
def test_an_unsupported_command_is_an_error_never_dropped(command: str) -> None:
    r = smt.run({"smtlib": f"(declare-const x Int)\n(assert (> x 0))\n{command}"})
    head = command[1:].split()[0].rstrip(")")
    assert not r.ok and r.error.startswith(f"SMT-LIB error at line 3: unsupported command '{head}'")


def test_no_state_leaks_between_calls_of_one_session() -> None:
    with ToolSession() as session:
        first = smt.run({"smtlib": "(define-fun f () Int 3)(declare-const y Int)(assert (= y f))"}, session)
        assert first.data["model"] == {"y": "3"}
        second = smt.run({"smtlib": "(declare-const z Int)(assert (> z 0))(check-sat)(get-model)"}, session)
        assert set(second.data["model"]) == {"z"}, "nothing of the first call is in the second's model"
        third = smt.run({"smtlib": "(declare-const y Int)(assert (= y f))"}, session)
        assert not third.ok and "unknown constant f" in third.error

"""The smt tool against real Z3."""

from __future__ import annotations

import time

from solvegraph.testing import assert_conformant
from solvegraph.tools.smt import smt

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


def test_timeout_is_a_result() -> None:
    started = time.perf_counter()
    r = smt.run({"smtlib": HARD, "timeout": 1})
    assert time.perf_counter() - started < 1 + 2
    assert not r.ok and r.error.startswith("timeout") and r.data["status"] == "timeout"


def test_memory_limit_ends_as_a_result_not_a_crash() -> None:
    # 64 MB cannot even hold Python and Z3: the worker dies, the caller gets a result, this process lives on.
    from solvegraph.plugins import ToolSession

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

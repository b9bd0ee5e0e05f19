"""The math scorer: known hard equal/unequal pairs, unparseable answers, and the sandboxed worker's limits.

The pairs are judged in the real sandboxed worker (the scorer's only path); the extraction helpers,
which never parse model output with sympy, are checked directly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from solvegraph.bench._mathcheck import final_answer, last_boxed, normalize
from solvegraph.bench._mathscore import close_pools, math_score, pool_for
from solvegraph.memory import Store
from tests.conftest import DATA, run_cli

OPTIONS = {"sandbox": "auto"}

EQUAL = [
    (r"\frac{1}{2}", "0.5"),  # a fraction and its decimal
    (r"\dfrac12", r"\frac{1}{2}"),  # \dfrac, braces left out
    (r"\tfrac{3}{4}", "0.75"),
    (r"\frac{\sqrt{2}}{2}", r"\frac{1}{\sqrt{2}}"),  # radicals, rationalised or not
    (r"2\sqrt{3}", r"\sqrt{12}"),
    (r"\frac{\pi}{2}", "1.5707963267948966"),  # π against its value
    (r"2\pi", r"\pi \cdot 2"),
    (r"\left(1, 2\right]", "(1,2]"),  # intervals, \left/\right dropped
    (r"(-\infty, 3]", r"(-\infty,3]"),
    (r"\{2, 1\}", r"\{1,2\}"),  # a set's order does not matter
    ("(3, -4)", r"\left(3,-4\right)"),  # tuples
    (r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", r"\begin{pmatrix}1\\2\end{pmatrix}"),  # matrices
    (r"50\%", "50"),  # percent
    (r"30^\circ", "30"),  # degrees
    (r"30^{\circ}", "30"),
    (r"10\text{ cm}", "10"),  # a unit
    ("1,000", "1000"),  # thousands separator
    (r"x = 3", "3"),  # an equation naming the variable
    (r"\boxed{\frac{9}{7}}", r"\dfrac{9}{7}"),  # \boxed in the prediction
    (r"The final answer is $\boxed{-\frac{1}{8}}$.", r"-\frac{1}{8}"),
    ("Final Answer: 402", "402"),
    (r"x \in [-2,7]", "[-2, 7]"),
    ("0.3333333333", r"\frac{1}{3}"),  # within the numeric tolerance
    (r"(x+1)^2", r"x^2+2x+1"),  # symbolic equivalence
]

UNEQUAL = [
    ("(1,2)", "(2,1)"),  # a tuple's order matters
    ("[1,2)", "(1,2)"),  # closed vs open end
    ("0.333", r"\frac{1}{3}"),  # outside the tolerance
    (r"\frac{1}{2}", r"\frac{1}{3}"),
    (r"\sqrt{2}", "1.41"),
    (r"\pi", "3.14"),
    (r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", r"\begin{pmatrix} 2 \\ 1 \end{pmatrix}"),
    (r"\{1,2\}", r"\{1,2,3\}"),
    ("-15", "15"),
    (r"2\sqrt{3}", r"3\sqrt{2}"),
]


@pytest.fixture(scope="module", autouse=True)
def _workers():
    yield
    close_pools()


@pytest.mark.parametrize(("prediction", "gold"), EQUAL)
def test_equal_pairs(prediction: str, gold: str) -> None:
    result = math_score(prediction, gold, OPTIONS)
    assert result.correct, result.detail


@pytest.mark.parametrize(("prediction", "gold"), UNEQUAL)
def test_unequal_pairs(prediction: str, gold: str) -> None:
    result = math_score(prediction, gold, OPTIONS)
    assert not result.correct, result.detail
    assert result.detail.get("how") == "unequal"


@pytest.mark.parametrize("prediction", [r"\frac{", r"\sqrt{", "$$"])
def test_an_unparseable_answer_is_wrong_with_the_reason_kept(prediction: str) -> None:
    result = math_score(prediction, "12", OPTIONS)
    assert not result.correct
    assert "cannot parse" in result.detail["reason"] or result.detail["reason"] == "empty answer"


def test_no_answer_is_wrong() -> None:
    assert math_score(None, "3", OPTIONS).detail == {"reason": "no answer"}
    assert math_score("   ", "3", OPTIONS).detail == {"reason": "no answer"}


def test_a_hanging_comparison_is_stopped_and_the_next_one_still_runs() -> None:
    # A tower of powers sympy tries to evaluate: the worker's deadline stops it, not solvegraph.
    slow = math_score(r"10^{10^{10^{10^{10}}}}-10^{10^{10^{10^{10}}}}+1", "1", {**OPTIONS, "math_timeout": 1})
    if slow.correct:  # sympy answered in time here: nothing hung, and the answer is right
        assert slow.detail["how"] in ("symbolic", "numeric")
    else:
        assert "limit" in slow.detail.get("reason", "") or slow.detail.get("how") == "unequal"
    after = math_score(r"\frac{6}{4}", "1.5", OPTIONS)
    assert after.correct


def test_model_code_in_an_answer_is_never_run_in_solvegraphs_process(tmp_path: Path) -> None:
    # sympy's parse_expr evaluates Python; the answer is model output. Whatever it reaches runs in the
    # sandboxed worker, which cannot see this test's folder.
    marker = tmp_path / "owned"
    answer = f"__import__('pathlib').Path({str(marker)!r}).write_text('x')"
    result = math_score(answer, "3", OPTIONS)
    assert not result.correct
    assert not marker.exists()


def test_the_pool_reuses_workers() -> None:
    pool = pool_for("auto")
    math_score("1", "1", OPTIONS)
    before = {id(w) for w in pool._all}
    assert before and len(pool._idle) == len(before)
    for _ in range(3):
        math_score("2", "2", OPTIONS)
    assert {id(w) for w in pool._all} == before


def test_extraction_and_normalisation() -> None:
    assert last_boxed(r"so $\boxed{\frac{\sqrt{2}}{2}}$ and not \boxed{3") == r"\frac{\sqrt{2}}{2}"
    assert last_boxed("no box") is None
    assert final_answer("work...\nThe final answer is 7") == "7"
    assert final_answer(r"a \boxed{1} then \fbox{2}") == "2"
    assert normalize(r"$\left( \dfrac{1}{2}, 3 \right)$.") == r"( \frac{1}{2}, 3 )"
    assert normalize(r"45^{\circ}") == "45"


def test_bench_math_direct_with_the_math_scorer(scripted, tmp_path: Path) -> None:
    """`solvegraph bench math` over the committed MATH slice: LaTeX answers written other ways score right."""
    answers = {
        "vertical asymptotes": r"ANSWER: \boxed{2}",
        "positive difference": "ANSWER: 10.0",
        "lceil": r"ANSWER: $\frac{9}{7}$",  # gold \dfrac{9}{7}
        "i^5": "ANSWER: -i",  # wrong: the gold is i
    }

    def solver(body):
        q = body["messages"][-1]["content"]
        return next((a for k, a in answers.items() if k in q), r"ANSWER: \frac{")

    db = tmp_path / "m.sqlite"
    with scripted({"solver": [solver]}) as model:
        proc = run_cli(
            "bench", "math", "--data", str(DATA / "math/test.jsonl"), "--limit", "5", "--strategy", "direct",
            "-j", "4", "--json", "--base-url", model.base_url, "--db", f"sqlite:///{db}",
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    rows = {r["sample"]: r for r in Store(f"sqlite:///{db}").results(summary["run_id"])}
    outcomes = {k: v["outcome"] for k, v in rows.items()}
    assert outcomes["math-0"] == "correct"
    assert outcomes["math-1"] == "correct"
    assert outcomes["math-3"] == "wrong"
    assert outcomes["math-2"] == "correct"
    assert outcomes["math-4"] == "wrong"  # "\\frac{": unparseable, with the reason kept
    assert "cannot parse" in rows["math-4"]["details"]["reason"]
    assert rows["math-3"]["details"]["how"] == "unequal"

"""The math scorer in its sandboxed workers at -j 8, against the same comparisons in-process, in one run.

    python benchmarks/math_scorer.py [--n 400] [--jobs 8] [--sandbox auto]

The answers are MATH-style pairs (fractions, radicals, π, intervals, sets, tuples, matrices, percent,
degrees, plain numbers, some equal, some not), each made distinct by its numbers so that no parse is
answered from math-verify's in-process cache. Three ways over the same pairs:

1. ``math_score`` with ``--jobs`` threads, as ``bench -j 8`` calls it: each comparison in a pooled
   sandboxed worker (started before the clock, as a run's first samples start them);
2. ``_mathcheck.compare`` in this process, one thread, no sandbox (the baseline);
3. the same in-process with ``--jobs`` threads (the GIL: about the same as one).

Prints samples scored per second for each, and the ratio of (1) to (2).
"""

from __future__ import annotations

import argparse
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from solvegraph.bench._mathcheck import compare
from solvegraph.bench._mathscore import close_pools, math_score, pool_for

TEMPLATES = [
    (r"\frac{{{a}}}{{{b}}}", "{ratio}"),
    (r"\dfrac{{{a}}}{{{b}}}", r"\frac{{{a}}}{{{b}}}"),
    (r"{a}\sqrt{{{b}}}", r"\sqrt{{{sq}}}"),
    (r"\frac{{{a}\pi}}{{{b}}}", r"\frac{{{a}}}{{{b}}}\pi"),
    (r"\left({a}, {b}\right]", "({a},{b}]"),
    (r"\{{{a}, {b}\}}", r"\{{{b},{a}\}}"),
    ("({a}, {b})", "({b}, {a})"),
    (r"\begin{{pmatrix}} {a} \\ {b} \end{{pmatrix}}", r"\begin{{pmatrix}}{a}\\{b}\end{{pmatrix}}"),
    (r"{a}\%", "{a}"),
    (r"{a}^\circ", "{a}"),
    (r"The final answer is $\boxed{{{a}}}$.", "{a}"),
    ("{a}", "{b}"),
]


def pairs(n: int) -> list[tuple[str, str]]:
    out = []
    for i in range(n):
        a, b = 2 + i, 3 + 2 * i
        pred, gold = TEMPLATES[i % len(TEMPLATES)]
        values = {"a": a, "b": b, "ratio": a / b, "sq": a * a * b}
        out.append((pred.format(**values), gold.format(**values)))
    return out


def rate(n: int, seconds: float) -> float:
    return n / seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--sandbox", default="auto")
    args = parser.parse_args()
    logging.getLogger("math_verify").setLevel(logging.ERROR)  # its note that threads have no alarm-based timeout
    work = pairs(args.n)
    options = {"sandbox": args.sandbox}

    # Start the pool's workers (and their imports) before the clock: a run pays this once.
    pool = pool_for(args.sandbox)
    with ThreadPoolExecutor(args.jobs) as ex:
        list(ex.map(lambda _: math_score("1", "1", options), range(args.jobs * 2)))
    workers = len(pool._all)

    started = time.perf_counter()
    with ThreadPoolExecutor(args.jobs) as ex:
        sandboxed = list(ex.map(lambda p: math_score(p[0], p[1], options), work))
    sandboxed_s = time.perf_counter() - started
    close_pools()

    compare("1", "1")  # imports, as the workers had
    started = time.perf_counter()
    inline = [compare(p, g) for p, g in pairs(args.n)]
    inline_s = time.perf_counter() - started

    shifted = [(p + " ", g) for p, g in work]  # new strings: no answer from the parse cache of the run above
    started = time.perf_counter()
    with ThreadPoolExecutor(args.jobs) as ex:
        list(ex.map(lambda p: compare(p[0], p[1]), shifted))
    inline_threads_s = time.perf_counter() - started

    agree = sum(s.correct == i["correct"] for s, i in zip(sandboxed, inline, strict=True))
    print(f"{args.n} pairs, {sum(s.correct for s in sandboxed)} equal; sandboxed and in-process agree on {agree}")
    print(f"sandboxed workers (-j {args.jobs}, {workers} workers, {args.sandbox}): {rate(args.n, sandboxed_s):.0f}/s")
    print(f"in-process, 1 thread, no sandbox: {rate(args.n, inline_s):.0f}/s")
    print(f"in-process, {args.jobs} threads, no sandbox: {rate(args.n, inline_threads_s):.0f}/s")
    print(f"ratio sandboxed -j {args.jobs} / in-process: {inline_s / sandboxed_s:.2f}x")


if __name__ == "__main__":
    main()

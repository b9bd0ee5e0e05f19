"""Per-check latency of the lean and smt tools against their raw engines, in one run.

    python benchmarks/formal_latency.py [--repeat 20] [--lean PATH]

lean: a small prelude theorem judged by the tool against a bare ``lean --json FILE``
subprocess on the same file, in one run, two ways:
  - with the asked statement: the full judge (allowlist, the challenge compiled once per
    process and cached, the candidate compiled alone in the sandbox, the trusted check
    file). Aim: <= 2x the single run;
  - without a statement: the candidate's own theorem only.

smt: the same named assertions solved through the tool (in its memory-capped worker
process) against z3's Python API called directly in this process, doing the same
work: solve, then for an unsat answer track the names to extract the core. Target:
<= 10% overhead. Problems: a random 3-SAT instance (sat), pigeonhole 8 (unsat, core),
and a trivial one where the fixed cost of the worker round trip dominates.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import z3

from solvegraph.plugins import ToolSession
from solvegraph.tools.lean import check_proof
from solvegraph.tools.smt.host import smt

PRELUDE = """prelude
inductive N where
  | z : N
  | s : N → N
inductive Eq2 {a : Type} : a → a → Prop where
  | refl (x : a) : Eq2 x x
theorem refl_z : Eq2 N.z N.z := Eq2.refl N.z
"""
STATEMENT = PRELUDE.replace(":= Eq2.refl N.z", ":= by sorry")


def heavy(k: int) -> tuple[str, str]:
    """A proof whose checking takes real kernel time (defeq on unary powers of two, exponential in k)."""
    n = "N.z"
    for _ in range(k):
        n = f"(N.s {n})"
    head = PRELUDE.split("theorem")[0] + (
        "set_option maxHeartbeats 0\nset_option maxRecDepth 1000000\n"
        "noncomputable def add (a b : N) : N := N.rec a (fun _ ih => N.s ih) b\n"
        "noncomputable def p2 (n : N) : N := N.rec (N.s N.z) (fun _ ih => add ih ih) n\n"
        "noncomputable def p2' (n : N) : N := N.rec (N.s N.z) (fun _ ih => add ih (add ih N.z)) n\n"
    )
    claim = f"theorem slow : Eq2 (p2 {n}) (p2' {n})"
    return head + claim + " := Eq2.refl _\n", head + claim + " := by sorry\n"


def pigeonhole(n: int) -> tuple[str, list[dict[str, str]]]:
    """n+1 pigeons in n holes: unsat, and exponentially hard for resolution."""
    decls = " ".join(f"(declare-const p{i}_{j} Bool)" for i in range(n + 1) for j in range(n))
    assertions = [
        {"name": f"pigeon{i}", "formula": "(or " + " ".join(f"p{i}_{j}" for j in range(n)) + ")"} for i in range(n + 1)
    ]
    for j in range(n):
        for i in range(n + 1):
            for k in range(i + 1, n + 1):
                assertions.append({"name": f"hole{j}_{i}_{k}", "formula": f"(not (and p{i}_{j} p{k}_{j}))"})
    return decls, assertions


def direct_z3(decls: str, assertions: list[dict[str, str]]) -> float:
    """What a user would write for the same answer: solve, and for unsat, track names to get the core."""
    started = time.perf_counter()
    script = decls + "".join(f"(assert {a['formula']})" for a in assertions)
    formulas = list(z3.parse_smt2_string(script))
    solver = z3.Solver()
    solver.add(formulas)
    if solver.check() == z3.unsat:
        tracker = z3.Solver()
        for f, a in zip(formulas, assertions, strict=True):
            tracker.assert_and_track(f, z3.Bool(a["name"]))
        tracker.check()
        tracker.unsat_core()
    else:
        model = solver.model()
        {d.name(): str(model[d]) for d in model.decls()}  # read the model, as the tool must
    return time.perf_counter() - started


def random_3sat(n_vars: int = 250, ratio: float = 4.0, seed: int = 5) -> tuple[str, list[dict[str, str]]]:
    """A satisfiable-side random 3-SAT instance: real search, no core."""
    import random

    rng = random.Random(seed)
    decls = " ".join(f"(declare-const v{i} Bool)" for i in range(n_vars))
    clauses = []
    for k in range(int(n_vars * ratio)):
        lits = [f"v{i}" if rng.random() < 0.5 else f"(not v{i})" for i in rng.sample(range(n_vars), 3)]
        clauses.append({"name": f"c{k}", "formula": f"(or {' '.join(lits)})"})
    return decls, clauses


def tool_z3(session: ToolSession, decls: str, assertions: list[dict[str, str]]) -> float:
    started = time.perf_counter()
    result = smt.run({"declarations": decls, "assertions": assertions, "timeout": 120}, session)
    assert result.ok, result.error
    return time.perf_counter() - started


def time_lean(
    lean: str, proof: str, repeat: int, checks: list[dict[str, str]], options: dict[str, str]
) -> tuple[float, list[float]]:
    """Median seconds of a bare ``lean --json`` on ``proof``, and of the judge with each of ``checks``
    (keyword arguments of check_proof), interleaved in one loop. The challenge compiles before timing."""
    for check in checks:
        check_proof(proof, options=options, **check)
    raw: list[float] = []
    judged: list[list[float]] = [[] for _ in checks]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "Raw.lean"
        path.write_text(proof)
        for _ in range(repeat):
            started = time.perf_counter()
            subprocess.run([lean, "--json", str(path)], capture_output=True, check=True)
            raw.append(time.perf_counter() - started)
            for check, times in zip(checks, judged, strict=True):
                started = time.perf_counter()
                verdict = check_proof(proof, options=options, **check)
                times.append(time.perf_counter() - started)
                assert verdict.accepted, verdict.reasons
    return statistics.median(raw), [statistics.median(t) for t in judged]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--lean", default=shutil.which("lean"), help="a lean executable (default: lean on PATH)")
    parser.add_argument("--heavy-k", type=int, default=15, help="size of the heavy lean proof (exponential)")
    args = parser.parse_args()
    out = {}

    if args.lean:
        options = {"lean_path": args.lean}
        proof, statement = heavy(args.heavy_k)
        r, (j,) = time_lean(args.lean, proof, max(3, args.repeat // 5), [{"statement": statement}], options)
        out["lean_heavy"] = {"raw_s": r, "judge_s": j, "judge_ratio": j / r}
        print(
            f"lean, a proof with real kernel work (k={args.heavy_k}): raw lean --json {r * 1000:.1f} ms; "
            f"judge with statement {j * 1000:.1f} ms ({j / r:.2f}x, aim <= 2x)"
        )
        checks = [{"statement": STATEMENT}, {"theorem": "refl_z"}]
        r, (j, a) = time_lean(args.lean, PRELUDE, args.repeat, checks, options)
        out["lean"] = {"raw_s": r, "judge_s": j, "judge_ratio": j / r, "theorem_only_s": a, "theorem_only_ratio": a / r}
        print(
            f"lean, a small theorem: raw lean --json {r * 1000:.1f} ms; judge with statement {j * 1000:.1f} ms "
            f"({j / r:.2f}x, aim <= 2x); theorem only {a * 1000:.1f} ms ({a / r:.2f}x)"
        )
    else:
        print("lean: skipped (no lean on PATH; pass --lean PATH)")

    with ToolSession() as session:
        tool_z3(session, *pigeonhole(3))  # start the worker, as a running session has it
        for label, problem, repeat in [
            ("random 3-SAT, 250 vars (sat)", random_3sat(), max(3, args.repeat // 2)),
            ("pigeonhole 8 (unsat, with core)", pigeonhole(8), max(3, args.repeat // 5)),
            ("pigeonhole 3 (trivial)", pigeonhole(3), args.repeat),
        ]:
            direct, tool = [], []
            for _ in range(repeat):
                direct.append(direct_z3(*problem))
                tool.append(tool_z3(session, *problem))
            d, t = statistics.median(direct), statistics.median(tool)
            out[f"smt {label}"] = {"direct_s": d, "tool_s": t, "overhead": t / d - 1}
            print(
                f"smt {label}, {len(problem[1])} assertions: z3 direct {d * 1000:.1f} ms, smt tool "
                f"{t * 1000:.1f} ms, overhead {100 * (t / d - 1):+.1f}% (target <= 10%)"
            )
    print(json.dumps(out))


if __name__ == "__main__":
    main()

"""``solvegraph verify`` on a Lean certificate against the judgement that issued it, in one run.

    python benchmarks/lean_certificate.py [--repeat 5] [--lean PATH] [--heavy-k 15]

1. The judgement: the ``lean`` tool's call (challenge compiled from the statement, the candidate compiled,
   kernel replay, the check file) and the ``lean-judge`` verifier, which issues the certificate.
2. The re-check: :func:`solvegraph.plugins._certify.verify_all`, which judges the candidate again from the
   certificate's two sources with the same toolchain (each Lean run and the replay its own sandbox).

Two proofs: a small prelude theorem (fixed costs: sandbox starts and loading Lean), and one whose checking is
real kernel work (defeq on unary powers of two, exponential in k). Ratios are re-check / judgement, medians.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from formal_latency import PRELUDE, STATEMENT, heavy

from solvegraph.plugins import PluginManager, ToolSession
from solvegraph.plugins._certify import VERIFIED, verify_all
from solvegraph.tools.lean import judged_statement, lean


def measure(lean_path: str, statement: str, proof: str, repeat: int) -> tuple[float, float]:
    checkers = PluginManager().certificate_checkers()
    problem = f"Prove it.\n\n```lean\n{statement}```\n"
    judge_s, verify_s = [], []
    with ToolSession(options={"lean_path": lean_path, "lean_timeout": 600}) as session:
        for n in range(repeat + 1):  # the first of each, untimed: the challenge cache and the replay driver
            started = time.perf_counter()
            arguments = {"proof": proof, "statement": statement}
            result = lean.run(arguments, session)
            said = judged_statement(problem, [{"name": "lean", "arguments": arguments, "result": result.to_dict()}])
            judged = time.perf_counter() - started
            assert said and said.get("accepted") and said.get("certificate"), said
            started = time.perf_counter()
            (report,) = verify_all(
                [("bench", said["certificate"])], checkers, tool_options={"lean": {"lean_path": lean_path}},
                time_limit=600,
            )  # fmt: skip
            verified = time.perf_counter() - started
            assert report.outcome == VERIFIED, report
            if n:
                judge_s.append(judged)
                verify_s.append(verified)
    return statistics.median(judge_s), statistics.median(verify_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--lean", default=shutil.which("lean"), help="a lean executable (default: lean on PATH)")
    parser.add_argument("--heavy-k", type=int, default=15, help="size of the heavy proof (exponential)")
    args = parser.parse_args()
    if not args.lean:
        sys.exit("lean_certificate: no lean on PATH; pass --lean PATH (see the README for the test lean)")
    heavy_proof, heavy_statement = heavy(args.heavy_k)
    for label, statement, proof in [
        ("a small prelude theorem", STATEMENT, PRELUDE),
        (f"real kernel work (k={args.heavy_k})", heavy_statement, heavy_proof),
    ]:
        judged, verified = measure(args.lean, statement, proof, args.repeat)
        print(
            f"{label}: judgement (tool + verifier) {judged * 1000:.0f} ms; verify {verified * 1000:.0f} ms; "
            f"ratio {verified / judged:.2f}x (median of {args.repeat})"
        )


if __name__ == "__main__":
    main()

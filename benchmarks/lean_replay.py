"""Kernel replay of the compiled candidate against the judge's compile of it, in one run.

    python benchmarks/lean_replay.py [--repeat 10] [--lean PATH] [--heavy-k 15]

Each check_proof call records, in its verdict's ``record["timings_s"]``, how long the sandboxed
``lean -o`` of the candidate took and how long its kernel replay took (a second sandboxed process:
leanchecker, or solvegraph's driver against the toolchain's libleanshared.so). Both are measured in
the same call, so the ratio is replay / compile on the same proof, the same machine, the same load.
Two proofs: a small prelude theorem (fixed costs dominate: a sandbox start and loading Lean), and one
whose checking is real kernel work (defeq on unary powers of two, exponential in k), which the replay
has to redo.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from formal_latency import PRELUDE, heavy

from solvegraph.tools.lean import check_proof


def measure(proof: str, options: dict[str, object], repeat: int, **check: str) -> tuple[float, float, str]:
    """Median compile and replay seconds over ``repeat`` judged checks (one untimed warm-up first)."""
    check_proof(proof, options=options, **check)
    compile_s, replay_s, tool = [], [], ""
    for _ in range(repeat):
        verdict = check_proof(proof, options=options, **check)
        assert verdict.accepted, verdict.reasons
        assert verdict.record["kernel_replay"]["status"] == "passed", verdict.checks["kernel_replay"]
        compile_s.append(verdict.record["timings_s"]["candidate_compile"])
        replay_s.append(verdict.record["timings_s"]["kernel_replay"])
        tool = verdict.record["kernel_replay"]["tool"]
    return statistics.median(compile_s), statistics.median(replay_s), tool


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--lean", default=shutil.which("lean"), help="a lean executable (default: lean on PATH)")
    parser.add_argument("--heavy-k", type=int, default=15, help="size of the heavy proof (exponential)")
    args = parser.parse_args()
    if not args.lean:
        sys.exit("lean_replay: no lean on PATH; pass --lean PATH (see the README for the test lean)")
    options: dict[str, object] = {"lean_path": args.lean, "lean_timeout": 600}
    heavy_proof, _ = heavy(args.heavy_k)
    for label, proof, check, repeat in [
        ("a small prelude theorem", PRELUDE, {"theorem": "refl_z"}, args.repeat),
        (f"real kernel work (k={args.heavy_k})", heavy_proof, {"theorem": "slow"}, max(3, args.repeat // 3)),
    ]:
        compiled, replayed, tool = measure(proof, options, repeat, **check)
        print(
            f"{label}: judge's compile {compiled * 1000:.1f} ms; kernel replay ({tool}) {replayed * 1000:.1f} ms; "
            f"ratio {replayed / compiled:.2f}x (median of {repeat})"
        )


if __name__ == "__main__":
    main()

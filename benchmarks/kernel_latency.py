"""Warm-kernel cell latency against a fresh ``python -c`` subprocess per call, in one run.

    python benchmarks/kernel_latency.py [--repeat 20]

Two workloads: a trivial cell, and a 5-step trajectory whose cells use sympy and
numpy. The subprocess baseline runs each step's own code plus the imports it
needs (state cannot survive between processes). The kernel side takes a session
from a warm pool (booted beforehand, as in normal use) and runs the five cells.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from solvegraph.plugins import PluginManager, ToolSession
from solvegraph.tools.python import default_pool

IMPORTS = "import numpy as np\nimport sympy as sp\n"
STEPS = [
    "x = sp.symbols('x')\nroots = sp.solve(x**2 - 5*x + 6, x)\nprint(roots)",
    "A = np.array([[3.0, 1.0], [1.0, 2.0]])\nb = np.array([9.0, 8.0])\nprint(np.linalg.solve(A, b))",
    "expr = sp.integrate(sp.sin(x)**2, (x, 0, sp.pi))\nprint(expr)",
    "v = np.arange(1, 1001)\nprint(int((v**2).sum()))",
    "print(sp.factorint(2**32 + 1), np.mean([1, 2, 3]))",
]


def subprocess_steps(steps: list[str], prefix: str) -> float:
    started = time.perf_counter()
    for code in steps:
        # Each call must rebuild what it uses: imports, and the symbol x.
        full = prefix + ("x = sp.symbols('x')\n" if "x" in code and prefix else "") + code
        subprocess.run([sys.executable, "-c", full], check=True, capture_output=True)
    return time.perf_counter() - started


def kernel_steps(tool, steps: list[str], prefix: str) -> float:
    pool = default_pool()
    while not pool._idle:  # measure from a warm pool, as a running service has one
        time.sleep(0.05)
    started = time.perf_counter()
    with ToolSession() as session:
        cells = [prefix + steps[0], *steps[1:]] if prefix else steps
        for code in cells:
            result = tool.run({"code": code}, session)
            assert result.ok, result.error
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    tool = PluginManager().tools()["python"]
    default_pool().warm()

    rows = {}
    for name, steps, prefix in [("trivial cell", ["print(1 + 1)"], ""), ("5-step sympy+numpy", STEPS, IMPORTS)]:
        sub = [subprocess_steps(steps, prefix) for _ in range(args.repeat)]
        ker = [kernel_steps(tool, steps, prefix) for _ in range(args.repeat)]
        s, k = statistics.median(sub), statistics.median(ker)
        rows[name] = {"subprocess_median_s": s, "kernel_median_s": k, "speedup": s / k}
        print(f"{name:22s} subprocess {s * 1000:8.1f} ms   warm kernel {k * 1000:8.1f} ms   speedup {s / k:6.1f}x")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()

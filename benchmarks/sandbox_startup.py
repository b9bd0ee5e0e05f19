"""Start-up cost of the sandbox, as ratios against the unsandboxed baseline measured in the same run.

- one-shot command: ``python -I -S -c pass`` directly vs through ``Sandbox.run`` (bubblewrap);
- a fresh kernel per session: forked from the preloaded template, until it answers a cell (wall and
  CPU of this process plus children), vs booting a plain ipykernel subprocess with numpy and sympy.

    python benchmarks/sandbox_startup.py --repeat 10
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time

from solvegraph.sandbox import Limits, resolve_sandbox
from solvegraph.tools.python_kernel import KernelPool


def one_shot(repeat: int) -> dict[str, float]:
    sandbox = resolve_sandbox("bwrap")
    direct, boxed = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-I", "-S", "-c", "pass"], check=True)
        direct.append(time.perf_counter() - t)
        t = time.perf_counter()
        sandbox.run([sys.executable, "-I", "-S", "-c", "pass"], workdir=tempfile.mkdtemp())
        boxed.append(time.perf_counter() - t)
    d, b = statistics.median(direct), statistics.median(boxed)
    return {"direct_ms": d * 1000, "sandboxed_ms": b * 1000, "added_ms": (b - d) * 1000}


def fresh_kernels(repeat: int) -> dict[str, float]:
    pool = KernelPool(size=0, limits=Limits(), sandbox=resolve_sandbox("bwrap"))
    pool.factory()  # the template boots once per process
    walls = []
    for _ in range(repeat):
        t = time.perf_counter()
        kernel = pool.acquire()
        assert kernel.execute("print(1)").stdout.strip() == "1"
        walls.append(time.perf_counter() - t)
        pool.release(kernel)
    pool.close()
    boots = []
    code = "import ipykernel.kernelapp, numpy, sympy"
    for _ in range(max(3, repeat // 3)):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        boots.append(time.perf_counter() - t)
    k, b = statistics.median(walls), statistics.median(boots)
    return {"fresh_kernel_ms": k * 1000, "plain_boot_imports_ms": b * 1000, "ratio": k / b}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    rows = {"one_shot": one_shot(args.repeat), "kernel": fresh_kernels(args.repeat)}
    for name, row in rows.items():
        print(name, "  ".join(f"{k} {v:.1f}" for k, v in row.items()))
    print(json.dumps(rows))


if __name__ == "__main__":
    main()

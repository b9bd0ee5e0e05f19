"""Start-up cost of each sandbox backend, as ratios against the unsandboxed baseline measured in the same run.

- one-shot command: ``python -I -S -c pass`` directly vs through ``Sandbox.run`` on each backend;
- a fresh kernel per session: forked from the preloaded template, until it answers a cell (wall time),
  vs booting a plain ipykernel subprocess with numpy and sympy imported.

    python benchmarks/sandbox_startup.py --repeat 10 [--backends gvisor,bwrap,none]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from solvegraph.sandbox import Limits, SandboxError, resolve_sandbox, scratch_dir
from solvegraph.tools.python import KernelPool


def direct(repeat: int) -> float:
    walls = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-I", "-S", "-c", "pass"], check=True)
        walls.append(time.perf_counter() - t)
    return statistics.median(walls)


def one_shot(mode: str, repeat: int) -> float:
    sandbox = resolve_sandbox(mode)
    walls = []
    for _ in range(repeat):
        t = time.perf_counter()
        result = sandbox.run([sys.executable, "-I", "-S", "-c", "pass"], workdir=scratch_dir())
        walls.append(time.perf_counter() - t)
        assert result.returncode == 0, result.stderr
    return statistics.median(walls)


def fresh_kernel(mode: str, repeat: int) -> tuple[float, float]:
    """(template boot, median fresh kernel until its first cell's answer)."""
    pool = KernelPool(size=0, limits=Limits(), sandbox=resolve_sandbox(mode))
    t = time.perf_counter()
    pool.factory()  # the template boots once per process
    boot = time.perf_counter() - t
    walls = []
    for _ in range(repeat):
        t = time.perf_counter()
        kernel = pool.acquire()
        assert kernel.execute("print(1)").stdout.strip() == "1"
        walls.append(time.perf_counter() - t)
        pool.release(kernel)
    pool.close()
    return boot, statistics.median(walls)


def plain_boot(repeat: int) -> float:
    boots = []
    for _ in range(max(3, repeat // 3)):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import ipykernel.kernelapp, numpy, sympy"], check=True)
        boots.append(time.perf_counter() - t)
    return statistics.median(boots)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--backends", default="gvisor,bwrap,none")
    args = parser.parse_args()
    base = direct(args.repeat)
    plain = plain_boot(args.repeat)
    print(f"plain process: {base * 1000:.1f} ms; plain ipykernel+numpy+sympy boot: {plain * 1000:.0f} ms")
    rows: dict[str, dict[str, float]] = {"baseline": {"process_ms": base * 1000, "kernel_boot_ms": plain * 1000}}
    for mode in args.backends.split(","):
        try:
            shot = one_shot(mode, args.repeat)
            boot, kernel = fresh_kernel(mode, args.repeat)
        except SandboxError as exc:
            print(f"{mode}: not available here: {exc}")
            continue
        rows[mode] = {
            "one_shot_ms": shot * 1000,
            "one_shot_ratio": shot / base,
            "template_boot_ms": boot * 1000,
            "fresh_kernel_ms": kernel * 1000,
            "fresh_kernel_ratio": kernel / plain,
        }
        print(
            f"{mode}: one-shot {shot * 1000:.0f} ms ({shot / base:.1f}x a plain process); template boot "
            f"{boot * 1000:.0f} ms once; fresh kernel to first answer {kernel * 1000:.0f} ms "
            f"({kernel / plain:.2f}x a plain kernel boot)"
        )
    print(json.dumps(rows))


if __name__ == "__main__":
    main()

"""Runs llama.cpp's OpenAI-compatible server (xllamacpp), and dies with the process that started it.

xllamacpp is a prebuilt wheel of llama.cpp whose ``Server`` runs llama.cpp's own C++ HTTP server
(``/v1/models``, ``/v1/chat/completions``) on threads of this process: nothing is compiled on install.

The parent stops the server on exit and on Ctrl-C; the watch loop also covers the case the parent
cannot handle (kill -9), so no server is ever left orphaned. It runs on the main thread once the model
is loaded: loading holds the GIL, so a watchdog thread could not run any earlier.

Usage: ``python -m solvegraph.llm._serve PARENT_PID --model FILE --model_alias NAME --host H --port P --n_ctx N``.
Why it failed to load is on stderr (llama.cpp's error lines, then one line of ours), which the parent reads.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from typing import Any

# Saved prompt states kept in RAM for reuse. llama.cpp's default (8 GiB) is sized for a dedicated
# server; this one shares the machine with the kernels and the solvers.
CACHE_RAM_MIB = 512
# The repeat penalty llama-cpp-python's server applied to every request unless it named one (llama.cpp's: none).
# Without it the greedy SmolLM2 loops: one solve wrote 3,514 tokens instead of 377, mostly repeats, up to
# max_tokens, and took 151 s instead of 55 s.
REPEAT_PENALTY = 1.1
# llama.cpp's log level: 2 keeps warnings and errors (why a model failed to load), not a line per request.
LOG_WARNINGS = 2


def threads() -> int:
    """Half the cores, as llama-cpp-python's server had. With llama.cpp's default, every core, its threads
    wait for each other at each token, and one core busy elsewhere (a kernel, a solver, another test) stalls
    them all: on 2 cores with one busy, 200 tokens took 8.2 s with 2 threads and 3.8 s with 1."""
    return max(1, (os.cpu_count() or 2) // 2)


def _watch(parent: int) -> None:
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


def _exit(signum: int, frame: Any) -> None:
    os._exit(0)


def _params(xllamacpp: Any, args: argparse.Namespace) -> Any:
    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.model_alias = {args.model_alias}
    params.hostnames = [args.host]
    params.port = args.port
    params.n_ctx = args.n_ctx
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = threads()
    params.n_parallel = 1  # one request at a time, as before: the whole context for each
    params.cache_ram_mib = CACHE_RAM_MIB
    params.sampling.penalty_repeat = REPEAT_PENALTY  # over the last 64 tokens, llama.cpp's default window
    params.verbosity = LOG_WARNINGS
    return params


def main() -> None:
    parent = int(sys.argv[1])
    parser = argparse.ArgumentParser(prog="solvegraph.llm._serve")
    for flag in ("--model", "--model_alias", "--host"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--n_ctx", type=int, default=4096)
    args = parser.parse_args(sys.argv[2:])
    try:
        import xllamacpp
    except ImportError as exc:  # e.g. the OpenMP runtime it links against is missing
        hint = " (install the OpenMP runtime: apt-get install libgomp1)" if "libgomp" in str(exc) else ""
        print(f"cannot load xllamacpp: {exc}{hint}", file=sys.stderr, flush=True)
        sys.exit(1)
    try:
        server = xllamacpp.Server(_params(xllamacpp, args))
    except RuntimeError as exc:
        print(f"llama.cpp's server did not start: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
    # llama.cpp took SIGINT and SIGTERM for a shutdown that ends only its own loop, not this process.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _exit)
    print(f"serving {args.model_alias} at {server.listening_address}", file=sys.stderr, flush=True)
    _watch(parent)


if __name__ == "__main__":
    main()

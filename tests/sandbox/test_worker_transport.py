"""The solver worker's JSON lines: fast (orjson) but exact where orjson alone is not."""

from __future__ import annotations

import math

import pytest

from solvegraph.sandbox import resolve_sandbox
from solvegraph.sandbox._policy import Limits
from solvegraph.sandbox._worker import SandboxWorker, decode, encode


@pytest.mark.parametrize(
    "value",
    [
        {"lb": math.inf, "ub": -math.inf},  # orjson alone would write null: "no bound"
        {"big": 10**30},  # beyond 64 bits
        {"name": "\ud800"},  # a lone surrogate
        {"x": None, "y": [1, 2.5, "é"]},
        {1: "int key"},
    ],
)
def test_encode_round_trips_what_the_standard_library_would(value: dict) -> None:
    line = encode(value)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    back = decode(line)
    for key, expected in value.items():
        got = back[str(key)]
        if isinstance(expected, float):
            assert got == expected  # +-inf kept, not None
        else:
            assert got == expected or (isinstance(expected, int) and got == float(expected))


def test_nan_survives_as_nan_for_the_validator_to_reject() -> None:
    assert math.isnan(decode(encode({"rhs": math.nan}))["rhs"])


def test_a_worker_reply_nested_past_the_recursion_limit_is_a_crash_result_not_solvegraphs() -> None:
    """The reply comes from a process that read model-written input: it is parsed as data, never trusted."""
    worker = SandboxWorker(resolve_sandbox("auto"), ["builtins:exec"], Limits(memory_mb=512))
    try:
        kind, value = worker.call("builtins:exec", "import os; os.write(1, b'[' * 200000 + b'\\n')", deadline_s=20)
        assert kind == "crash" and "unreadable reply" in value
        assert not worker.alive  # a worker that wrote garbage is not trusted with the next call
    finally:
        worker.close()


def test_a_solver_worker_gets_a_large_stack() -> None:
    """Solvers recurse as deep as the model is long: their workers run with ``SOLVER_STACK_MB``, not 8 MB."""
    import resource

    from solvegraph.sandbox import SOLVER_STACK_MB

    call = "resource:getrlimit"
    for stack_mb in (SOLVER_STACK_MB, None):
        worker = SandboxWorker(resolve_sandbox("auto"), [call], Limits(memory_mb=512, stack_mb=stack_mb))
        try:
            kind, (soft, _) = worker.call(call, resource.RLIMIT_STACK, deadline_s=20)
        finally:
            worker.close()
        assert kind == "ok"
        if stack_mb is None:
            assert soft == resource.getrlimit(resource.RLIMIT_STACK)[0]  # inherited, untouched
        else:
            assert soft == stack_mb * 1024 * 1024

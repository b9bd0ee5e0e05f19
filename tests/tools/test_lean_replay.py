"""Kernel replay of compiled Lean modules, with the real test ``lean`` and the driver built against its library.

The tampering is done on real ``.olean`` files: one pointer of a theorem's type is moved to another
constant, so the stored type no longer matches the stored proof. Lean itself still imports such a file
without a word (shown below); only replay through the kernel catches it.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from solvegraph.sandbox import resolve_sandbox, scratch_dir
from solvegraph.tools.lean import _check, check_proof, find_replayer, replay_module

PRELUDE = """prelude
inductive N where
  | z : N
  | s : N → N
inductive Eq2 {a : Type} : a → a → Prop where
  | refl (x : a) : Eq2 x x
def alpha : N := N.z
def bravo : N := N.s N.z
theorem u : Eq2 bravo bravo := Eq2.refl bravo
theorem t : Eq2 alpha alpha := Eq2.refl alpha
"""

BASE_AT = 0x50  # the .olean header: "olean", version, Lean version, githash, then the region's base address


def tamper(olean: Path) -> None:
    """Make theorem ``t``'s stored type ``Eq2 alpha bravo`` while its proof stays ``Eq2.refl alpha``.

    A compacted region's pointers are the base address plus a file offset. An object is an 8-byte header
    (its last byte the constructor tag) followed by its fields: ``Name.str`` holds (prefix, string),
    ``Expr.const`` (tag 4) holds (name, levels), ``Expr.app`` (tag 5) holds (fn, arg).
    """
    data = bytearray(olean.read_bytes())
    base = struct.unpack_from("<Q", data, BASE_AT)[0]

    def pointer(offset: int) -> bytes:
        return struct.pack("<Q", base + offset)

    def holders(target: int, tag: int, index: int) -> list[int]:
        found, at = [], data.find(pointer(target))
        while at != -1:
            header = at - 8 - 8 * index
            if header >= 0 and data[header + 7] == tag:
                found.append(header)
            at = data.find(pointer(target), at + 1)
        return found

    def const(name: str) -> int:
        string = data.find(name.encode() + b"\0") - 32  # the string object's header: rc, size, capacity, length
        name_obj = data.find(pointer(string)) - 16
        (found,) = holders(name_obj, 4, 0)
        return found

    alpha, bravo = const("alpha"), const("bravo")
    for app in holders(alpha, 5, 1):  # `Eq2 N alpha alpha`: an application of alpha to an application of alpha
        fn = struct.unpack_from("<Q", data, app + 8)[0] - base
        if data[fn + 7] == 5 and struct.unpack_from("<Q", data, fn + 16)[0] - base == alpha:
            struct.pack_into("<Q", data, app + 16, base + bravo)
            olean.write_bytes(bytes(data))
            return
    raise AssertionError("theorem t's type was not found in the .olean")


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A folder the sandboxed user can reach, as the judge's own folders are (pytest's tmp_path is 0700)."""
    folder = Path(scratch_dir("sg-test-replay-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def compiled(lean_binary: str, scratch: Path) -> Path:
    folder = scratch / "mods"
    folder.mkdir()
    folder.chmod(0o755)
    (folder / "Sample.lean").write_text(PRELUDE)
    subprocess.run([lean_binary, "-o", "Sample.olean", "Sample.lean"], check=True, cwd=folder)
    (folder / "Sample.olean").chmod(0o644)
    return folder


def replay(lean_binary: str, folder: Path, module: str = "Sample", tmp: Path | None = None) -> tuple[str, str]:
    route = find_replayer([lean_binary], None)
    assert not isinstance(route, str), route
    work = Path(tmp or folder) / "work"
    work.mkdir(exist_ok=True)
    result = replay_module(
        resolve_sandbox("auto"),
        route,
        module,
        module_dirs=[str(folder)],
        search_path=[],
        workdir=str(work),
        timeout=60,
        memory_mb=1024,
    )
    return result.status, result.detail


def test_untampered_module_passes(lean_binary: str, compiled: Path, scratch: Path) -> None:
    assert replay(lean_binary, compiled, tmp=scratch) == ("passed", "")


def test_tampered_module_is_rejected_by_the_kernel(lean_binary: str, compiled: Path, scratch: Path) -> None:
    tamper(compiled / "Sample.olean")
    # Lean trusts what it imports: a false theorem follows from the tampered file.
    (compiled / "Use.lean").write_text("prelude\nimport Sample\ntheorem w : Eq2 alpha bravo := t\n")
    use = subprocess.run(
        [lean_binary, "Use.lean"], env={"LEAN_PATH": str(compiled)}, cwd=compiled, capture_output=True, text=True
    )
    assert use.returncode == 0, use.stdout
    status, detail = replay(lean_binary, compiled, tmp=scratch)
    assert status == "failed"
    assert "kernel" in detail and "declaration type mismatch" in detail and "'t'" in detail
    assert "\n" not in detail


def test_truncated_and_garbage_modules_are_one_line_failures(lean_binary: str, compiled: Path, scratch: Path) -> None:
    data = (compiled / "Sample.olean").read_bytes()
    (compiled / "Cut.olean").write_bytes(data[: len(data) // 3])
    (compiled / "Junk.olean").write_bytes(b"not an olean at all\n")
    for module in ("Cut", "Junk", "Absent"):
        status, detail = replay(lean_binary, compiled, module, tmp=scratch)
        assert status == "failed" and detail and "\n" not in detail, (module, detail)
    assert "invalid header" in replay(lean_binary, compiled, "Junk", tmp=scratch)[1]
    assert "Absent" in replay(lean_binary, compiled, "Absent", tmp=scratch)[1]


def test_leanchecker_next_to_lean_is_preferred(lean_binary: str, compiled: Path, scratch: Path) -> None:
    """A toolchain with ``leanchecker`` (Lean >= 4.28) is replayed with it, and its verdict counts.

    Here the ``leanchecker`` is a script running the driver (no full toolchain can be installed here).
    """
    driver = find_replayer([lean_binary], None)
    assert not isinstance(driver, str) and driver.tool == "driver"
    toolchain = scratch / "toolchain"
    toolchain.mkdir()
    shutil.copy(lean_binary, toolchain / "lean")
    checker = toolchain / "leanchecker"
    shutil.copy(driver.argv[0], toolchain / "replay-driver")
    checker.write_text('#!/bin/sh\nexec "$(dirname "$0")/replay-driver" "$1" /nonexistent\n')
    checker.chmod(0o755)
    toolchain.chmod(0o755)
    route = find_replayer([str(toolchain / "lean")], None)
    assert not isinstance(route, str) and route.tool == "leanchecker"
    assert replay(str(toolchain / "lean"), compiled, tmp=scratch)[0] == "passed"
    tamper(compiled / "Sample.olean")
    assert replay(str(toolchain / "lean"), compiled, tmp=scratch)[0] == "failed"


def test_other_lean_versions_are_not_replayed_and_say_why(tmp_path: Path) -> None:
    fake = tmp_path / "lean"
    fake.write_text('#!/bin/sh\necho "Lean (version 4.20.1, x86_64-unknown-linux-gnu, Release)"\n')
    fake.chmod(0o755)
    reason = find_replayer([str(fake)], None)
    assert isinstance(reason, str) and "no leanchecker" in reason


CANDIDATE_STATEMENT = PRELUDE.replace("theorem t : Eq2 alpha alpha := Eq2.refl alpha\n", "")


def test_judge_records_replay_and_the_certificate_fields(lean_binary: str) -> None:
    statement = CANDIDATE_STATEMENT + "theorem t : Eq2 alpha alpha := by sorry\n"
    verdict = check_proof(PRELUDE, statement=statement, options={"lean_path": lean_binary, "lean_timeout": 60})
    assert verdict.accepted, verdict.reasons
    assert verdict.checks["kernel_replay"] == "passed (driver)"
    record = verdict.to_dict()["record"]
    assert record["kernel_replay"]["status"] == "passed" and record["kernel_replay"]["tool"] == "driver"
    assert "SolvegraphStatement.s1" in record["challenge_source"] and record["statement"] == statement
    assert "theorem t : Eq2 alpha alpha := Eq2.refl alpha" in record["candidate_source"]
    assert record["toolchain"]["version"].startswith("Lean (version 4.35")
    assert record["axioms"] == {"u": [], "t": []}  # every theorem of the statement is asked


def test_judge_rejects_a_candidate_whose_olean_fails_replay(lean_binary: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Between the sandboxed compile and the replay the candidate's .olean is tampered with, as metaprogramming
    that writes the environment directly would leave it; the real replay then rejects the proof."""
    real = _check.replay_module

    def tampered_then_replayed(sandbox, route, module, *, module_dirs, **kwargs):
        tamper(Path(module_dirs[-1]) / f"{module}.olean")
        return real(sandbox, route, module, module_dirs=module_dirs, **kwargs)

    monkeypatch.setattr(_check, "replay_module", tampered_then_replayed)
    verdict = check_proof(PRELUDE, theorem="t", options={"lean_path": lean_binary, "lean_timeout": 60})
    assert not verdict.accepted
    assert verdict.checks["kernel_replay"].startswith("failed: kernel")
    assert verdict.reasons[0].startswith("kernel replay rejected the compiled candidate")
    assert verdict.record["kernel_replay"]["status"] == "failed"


def test_replay_can_be_turned_off_and_every_verdict_says_so(lean_binary: str) -> None:
    verdict = check_proof(
        PRELUDE, theorem="t", options={"lean_path": lean_binary, "tools": {"lean": {"replay": False}}}
    )
    assert verdict.accepted and verdict.checks["kernel_replay"].startswith("not run: turned off")
    rejected = check_proof(PRELUDE + "axiom cheat : False\n", theorem="t", options={"lean_path": lean_binary})
    assert not rejected.accepted and rejected.checks["kernel_replay"].startswith("not run:")

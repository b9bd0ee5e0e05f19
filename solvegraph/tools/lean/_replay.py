"""Kernel replay: the compiled candidate's constants re-checked by Lean's kernel in a fresh sandboxed process.

Compiling a module type-checks it as it is elaborated, but a module's ``.olean`` is what everything
downstream trusts: whatever ends up in it (by metaprogramming that writes the environment directly,
or by editing the file) is imported without a second look. Replay reads the ``.olean`` back and sends
every constant through the kernel again, as ``lean4checker`` does. Two routes:

- ``leanchecker``, shipped with every Lean toolchain since 4.28: used when it sits next to ``lean``;
- a small C driver, linked with gcc against the toolchain's ``libleanshared.so`` (built on first use,
  never shipped as a binary). It imports the module with ``Lean.importModules`` and replays every
  constant of the result into an empty environment with ``Lean.Environment.replay`` (``--fresh`` in
  leanchecker's terms). It calls Lean's compiled functions through their C ABI, which changes between
  releases, so it is used only with the Lean version it was written against (:data:`DRIVER_VERSION`).

When neither route exists the verdict says ``not run`` and why; the answer is then no stronger than the
compile alone.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ...sandbox import Limits, Sandbox, scratch_dir

# The Lean release whose C ABI the driver below is written against (argument lists of importModules and
# Environment.replay, the IO result layout without a world token, the Import structure's fields).
DRIVER_VERSION = "4.35."

# Our own declarations of the few runtime pieces the driver needs: lean.h is not shipped with the wheel's
# library. An object is an 8-byte header (rc, size, field count, tag); a constructor's fields follow it; a
# scalar is boxed as (n << 1) | 1; an IO action returns constructor 0 (ok, the value) or 1 (error).
DRIVER_C = r"""
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct { int rc; unsigned cs_sz : 16; unsigned other : 8; unsigned tag : 8; } lean_object;
typedef struct { lean_object header; lean_object *fields[]; } sg_ctor;

void lean_initialize(void);
lean_object *initialize_Lean(uint8_t builtin);
void lean_io_mark_end_initialization(void);
void lean_init_task_manager(void);
void lean_mark_persistent(lean_object *o);
lean_object *lean_alloc_object(size_t size);
lean_object *lean_mk_string(const char *s);
lean_object *lean_mk_array(lean_object *n, lean_object *v);
lean_object *lean_array_push(lean_object *a, lean_object *v);
lean_object *lean_io_error_to_string(lean_object *err);
lean_object *l_String_toName(lean_object *s);
lean_object *l_Lean_initSearchPath(lean_object *sysroot, lean_object *search_path);
lean_object *l_Lean_importModules(lean_object *imports, lean_object *opts, uint32_t trust_level,
                                  lean_object *plugins, uint8_t leak_env, uint8_t load_exts, uint8_t level,
                                  lean_object *artifacts);
lean_object *l_Lean_Environment_constants(lean_object *env);
lean_object *l_Lean_mkEmptyEnvironment(uint32_t trust_level);
lean_object *l_Lean_Environment_replay(lean_object *constants, lean_object *env);
extern lean_object *l_Lean_Options_empty;

#define BOX(n) ((lean_object *)(((size_t)(n) << 1) | 1))
#define LEVEL_PRIVATE 2 /* OLeanLevel.private: every part of the module, as a plain (non-`module`) file is */

static lean_object *field(lean_object *o, unsigned i) { return ((sg_ctor *)o)->fields[i]; }

static const char *text(lean_object *s) { return (const char *)s + sizeof(lean_object) + 3 * sizeof(size_t); }

/* One line on stdout: the stage that failed and Lean's message with its newlines folded. */
static int ok(lean_object *result, const char *stage) {
    if (result->tag == 0) return 1;
    const char *msg = text(lean_io_error_to_string(field(result, 0)));
    printf("failed: %s: ", stage);
    for (; *msg; msg++) putchar(*msg == '\n' ? ' ' : *msg);
    putchar('\n');
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODULE SYSROOT (the module is found on LEAN_PATH)\n", argv[0]);
        return 2;
    }
    lean_initialize();
    lean_object *r = initialize_Lean(1);
    lean_io_mark_end_initialization();
    if (!ok(r, "initialize")) return 3;
    lean_init_task_manager();
    if (!ok(l_Lean_initSearchPath(lean_mk_string(argv[2]), BOX(0)), "search path")) return 3;

    /* #[{ module := argv[1], importAll := false, isExported := true, isMeta := false }] */
    size_t size = sizeof(lean_object) + sizeof(void *) + 3;
    lean_object *import = lean_alloc_object(size);
    import->rc = 1;
    import->tag = 0;
    import->other = 1;
    import->cs_sz = (unsigned)size;
    ((sg_ctor *)import)->fields[0] = l_String_toName(lean_mk_string(argv[1]));
    unsigned char *flags = (unsigned char *)&((sg_ctor *)import)->fields[1];
    flags[0] = 0;
    flags[1] = 1;
    flags[2] = 0;
    lean_object *imports = lean_array_push(lean_mk_array(BOX(0), BOX(0)), import);

    r = l_Lean_importModules(imports, l_Lean_Options_empty, 0, lean_mk_array(BOX(0), BOX(0)), 0, 0,
                             LEVEL_PRIVATE, BOX(1));
    if (!ok(r, "import")) return 1;
    lean_object *env = field(r, 0);
    lean_mark_persistent(env); /* read below and never freed: the process ends */
    lean_object *constants = l_Lean_Environment_constants(env);
    lean_mark_persistent(constants);
    r = l_Lean_mkEmptyEnvironment(0);
    if (!ok(r, "empty environment")) return 3;
    /* map1 of the constant map: every constant of the module and of everything it imports. */
    r = l_Lean_Environment_replay(field(constants, 0), field(r, 0));
    if (!ok(r, "kernel")) return 1;
    printf("passed\n");
    return 0;
}
"""


@dataclass
class ReplayResult:
    """The replay verdict: ``passed``, ``failed`` or ``not run``, with the reason and the route taken."""

    status: str
    detail: str = ""
    tool: str | None = None
    duration_s: float = 0.0

    def line(self) -> str:
        """The ``kernel_replay`` check's value: ``passed (driver)``, ``failed: ...``, ``not run: ...``."""
        if self.status == "passed":
            return f"passed ({self.tool})"
        return f"{self.status}: {self.detail}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Replayer:
    """How to replay a module with one toolchain: the command (the module name is appended) and what it reads."""

    tool: str  # "leanchecker" or "driver"
    argv: tuple[str, ...]
    ro: tuple[str, ...]
    suffix: tuple[str, ...] = ()


@dataclass(frozen=True)
class Toolchain:
    """What ``lean --version`` and ``lean --print-prefix`` say, asked once per toolchain."""

    version: str
    prefix: str | None


_TOOLCHAINS: dict[tuple[tuple[str, ...], str | None], Toolchain] = {}
_DRIVERS: dict[str, str] = {}  # libleanshared.so -> the driver built against it
_LOCK = threading.Lock()
# The time.monotonic() by which the caller must be done (``solvegraph verify``'s checker), or None: the
# unsandboxed steps below (the toolchain query, ldd, the driver build) then take at most what is left.
_DEADLINE: ContextVar[float | None] = ContextVar("solvegraph_lean_deadline", default=None)


@contextmanager
def deadline(at: float) -> Iterator[None]:
    """Bound the unsandboxed steps of this module by ``at`` (a ``time.monotonic()`` value) inside the block."""
    token = _DEADLINE.set(at)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def within(seconds: float) -> float:
    """``seconds``, cut to what is left before the deadline in force (at least 1 s), if there is one."""
    at = _DEADLINE.get()
    return seconds if at is None else max(1.0, min(seconds, at - time.monotonic()))


def toolchain(command: list[str], project: str | None) -> Toolchain:
    """The toolchain's version line and install prefix (the verifying user's own toolchain, from their options,
    ``SOLVEGRAPH_LEAN`` or PATH, run outside the sandbox like ``lake env``; never a path from a certificate or
    anything the model wrote). An answer cut short by a deadline is not remembered."""
    key = (tuple(command), project)
    with _LOCK:
        if key in _TOOLCHAINS:
            return _TOOLCHAINS[key]
    cut: list[str] = []

    def ask(flag: str) -> str:
        try:
            proc = subprocess.run([*command, flag], cwd=project, capture_output=True, text=True, timeout=within(60))
        except subprocess.TimeoutExpired:
            cut.append(flag)
            return ""
        except OSError:
            return ""
        return proc.stdout.strip() if proc.returncode == 0 else ""

    found = Toolchain(ask("--version") or "unknown", ask("--print-prefix") or None)
    if not cut:
        with _LOCK:
            _TOOLCHAINS[key] = found
    return found


def _shared_library(lean: Path, prefix: str | None) -> Path | None:
    """The ``libleanshared.so`` a lean executable runs with: the toolchain's, else the one it is linked to."""
    if prefix and (Path(prefix) / "lib" / "lean" / "libleanshared.so").is_file():
        return Path(prefix) / "lib" / "lean" / "libleanshared.so"
    ldd = shutil.which("ldd")
    if not ldd or not lean.is_file():
        return None
    try:
        out = subprocess.run([ldd, str(lean)], capture_output=True, text=True, timeout=within(30)).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"libleanshared\.so\s*=>\s*(\S+)", out)
    return Path(m.group(1)) if m and Path(m.group(1)).is_file() else None


def find_replayer(command: list[str], project: str | None) -> Replayer | str:
    """The route to replay with this toolchain, or the reason there is none (a sentence for the verdict)."""
    chain = toolchain(command, project)
    lean = None if project else Path(command[0]).resolve()
    candidates = [lean.parent / "leanchecker"] if lean else []
    if chain.prefix:
        candidates.append(Path(chain.prefix) / "bin" / "leanchecker")
    for checker in candidates:
        if checker.is_file() and os.access(checker, os.X_OK):
            root = checker.resolve().parent.parent
            return Replayer("leanchecker", (str(checker),), (str(root),))
    if lean is None:
        return "no leanchecker in the project's toolchain (it ships with Lean 4.28 and later)"
    library = _shared_library(lean, chain.prefix)
    if library is None:
        return "no leanchecker next to lean and no libleanshared.so to build the replay driver against"
    if f"version {DRIVER_VERSION}" not in chain.version:
        return (
            f"no leanchecker next to lean, and the replay driver is written for Lean {DRIVER_VERSION}x "
            f"(this toolchain: {chain.version or 'unknown'})"
        )
    compiler = shutil.which("gcc") or shutil.which("cc")
    if not compiler:
        return "no leanchecker next to lean and no C compiler (gcc) to build the replay driver"
    try:
        driver = _driver(compiler, library)
    except _BuildError as exc:
        return f"the replay driver did not build: {exc}"
    ro = [str(Path(driver).parent), str(library.resolve().parent)]
    if chain.prefix and (Path(chain.prefix) / "lib" / "lean").is_dir():
        ro.append(str(Path(chain.prefix) / "lib" / "lean"))  # Init's .olean files, in a full toolchain
    return Replayer("driver", (driver,), tuple(ro), (chain.prefix or "/nonexistent",))


class _BuildError(Exception):
    pass


def _driver(compiler: str, library: Path) -> str:
    """The driver linked against ``library``, built once per process into a world-readable scratch folder."""
    key = str(library.resolve())
    with _LOCK:
        if key in _DRIVERS:
            return _DRIVERS[key]
        folder = Path(scratch_dir("sg-lean-replay-"))
        os.chmod(folder, 0o755)  # the sandboxed uid runs it
        atexit.register(shutil.rmtree, str(folder), True)
        source = folder / "replay.c"
        source.write_text(DRIVER_C, encoding="utf-8")
        binary = folder / f"replay-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
        libdir = str(library.resolve().parent)
        try:
            proc = subprocess.run(
                [
                    compiler,
                    "-O1",
                    "-o",
                    str(binary),
                    str(source),
                    f"-L{libdir}",
                    "-lleanshared",
                    f"-Wl,-rpath,{libdir}",
                ],
                capture_output=True,
                text=True,
                timeout=within(120),
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise _BuildError(str(exc)) from exc
        if proc.returncode != 0:
            raise _BuildError((proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1][:300])
        os.chmod(binary, 0o755)
        _DRIVERS[key] = str(binary)
        return str(binary)


def replay_module(
    sandbox: Sandbox,
    replayer: Replayer,
    module: str,
    *,
    module_dirs: list[str],
    search_path: list[str],
    workdir: str,
    timeout: float,
    memory_mb: int,
    cwd: str | None = None,
    ro: list[str] | None = None,
) -> ReplayResult:
    """Replay ``module`` (found on ``module_dirs``) in a fresh sandboxed process; never raises on bad input.

    A malformed ``.olean`` can crash the reader (it maps the file and trusts its layout): a crash is a
    failed replay, in one line, like a rejection by the kernel. ``ro``: further folders it must read (a
    Lake project and its dependencies' ``.olean`` files).
    """
    run = sandbox.run(
        [*replayer.argv, module, *replayer.suffix],
        workdir=workdir,
        limits=Limits(memory_mb=memory_mb + 1024, max_processes=256, output_chars=200_000, address_space_limit=False),
        timeout=timeout,
        ro=[*replayer.ro, *(ro or []), *module_dirs],
        cwd=cwd,
        env={"LEAN_PATH": ":".join([*module_dirs, *search_path])},
    )
    tool = replayer.tool
    if run.timed_out:
        return ReplayResult("failed", f"did not finish within {timeout:g} s", tool, run.duration_s)
    if run.returncode == 0:
        return ReplayResult("passed", "", tool, run.duration_s)
    if run.returncode < 0 or run.returncode > 128:
        number = -run.returncode if run.returncode < 0 else run.returncode - 128
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        detail = f"the replay crashed ({name}) reading {module}: the .olean is malformed or truncated"
        if number == signal.SIGKILL:
            detail = f"the replay was killed (out of memory at {memory_mb + 1024} MB?)"
        return ReplayResult("failed", detail, tool, run.duration_s)
    text = " ".join((run.stdout.strip() + "\n" + run.stderr.strip()).split())
    text = text.removeprefix("failed: ")
    return ReplayResult("failed", text[:1000] or f"exit code {run.returncode}", tool, run.duration_s)

"""Whether the sandboxed user can reach what a sandbox shows it, checked before the process starts.

Run as root, the bubblewrap backend runs sandboxed code as nobody (65534). bubblewrap makes the
parents of each bound path world-traversable, but a bound folder keeps its own mode: a Lean
toolchain in a ``mktemp -d`` folder (0700), an MCP server in root's home or a venv made under a
tight umask cannot be entered by nobody. The program then dies with exit 126, or reports that a
file "does not exist" (a folder it cannot search looks empty), and nothing names the cause.

:func:`check` names it in one line: the path, its mode and owner, the sandboxed user, the fix.
It is cheap (a few ``stat`` calls): each bound path itself, and the folders from the bound path
down to the program to run, never the trees below. A path with an ACL is left to the kernel.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import stat
from collections.abc import Sequence

from ._policy import SandboxError

R, W, X = 4, 2, 1


def _name(uid: int) -> str:
    with contextlib.suppress(KeyError):
        return pwd.getpwuid(uid).pw_name
    return str(uid)


def _allowed(st: os.stat_result, uid: int, gid: int, want: int) -> bool:
    """The permission bits that apply to ``uid``/``gid`` (no supplementary groups) grant ``want``."""
    if st.st_uid == uid:
        bits = st.st_mode >> 6
    elif st.st_gid == gid:
        bits = st.st_mode >> 3
    else:
        bits = st.st_mode
    return bits & want == want


def _has_acl(path: str) -> bool:
    with contextlib.suppress(OSError):
        return "system.posix_acl_access" in os.listxattr(path)
    return False


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


class UnreachablePath(SandboxError):
    """A bound path or program the sandboxed user cannot reach: the fix is a permission, not the backend."""


def check(bound: Sequence[str], programs: Sequence[str], uid: int, gid: int, backend: str = "bwrap") -> None:
    """Raise :class:`SandboxError` if ``uid`` cannot read a bound path or run one of ``programs``.

    ``bound``: host paths shown read-only at the same place; ``programs``: what will be executed
    (absolute paths; those outside every bound path are the system's, not checked here).
    """
    if uid == 0:
        return
    roots = [os.path.abspath(p) for p in bound if os.path.isabs(p)]
    targets: list[tuple[str, int, str]] = []  # (path, permission wanted, what for)
    for root in roots:
        # A path bound inside another bound one is reached through that one's own folders.
        outer = max((r for r in roots if r != root and _within(root, r)), key=len, default=None)
        if outer is not None:
            targets += [(d, X, "searched") for d in _between(outer, root)]
        targets.append((root, R | X if os.path.isdir(root) else R, "read"))
    for program in (p for p in programs if os.path.isabs(p)):
        for path in dict.fromkeys([os.path.normpath(program), os.path.realpath(program)]):
            holder = max((r for r in roots if _within(path, r) and r != path), key=len, default=None)
            if holder is None:
                continue
            targets += [(d, X, "searched") for d in _between(holder, path)]
            targets.append((path, X | (R if _is_script(path) else 0), "run"))
    for path, want, verb in dict.fromkeys(targets):
        try:
            st = os.stat(path)
        except OSError:
            continue  # a missing path is the program's to report
        if not _allowed(st, uid, gid, want) and not _has_acl(path):
            bits = "".join(c for c, b in (("r", R), ("x", X)) if want & b)
            raise UnreachablePath(
                f"sandbox ({backend}): {path} (mode {stat.S_IMODE(st.st_mode):04o}, owner {_name(st.st_uid)}) "
                f"cannot be {verb} by the sandboxed user {_name(uid)} ({uid}): chmod o+{bits} it, "
                "or move it to a folder others may read, or run solvegraph as a user other than root "
                "(the sandbox then runs code as that user)"
            )


def _between(root: str, path: str) -> list[str]:
    """The folders from ``root`` (included) down to ``path``'s parent."""
    rel = os.path.relpath(os.path.dirname(path), root)
    folders = [root]
    if rel != ".":
        for part in rel.split(os.sep):
            folders.append(os.path.join(folders[-1], part))
    return folders


def _is_script(path: str) -> bool:
    """A ``#!`` script is read by its interpreter, so it needs the read permission too."""
    with contextlib.suppress(OSError), open(path, "rb") as fh:
        return fh.read(2) == b"#!"
    return False

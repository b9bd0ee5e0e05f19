"""What a kernel keeps seeing when its private view covers the folders it shares with others.

The kernel template sees the Python installation where the backend bound it: at its host path,
which may be anywhere (a clone and its venv under /tmp, a venv in /dev/shm, ...). Each kernel
then covers /tmp, /dev/shm, /session and the sessions folder with mounts of its own, and with
them every bound path below: only the modules the template had already imported would load
("cannot import name 'debugger' from 'IPython.core'").

So before covering, the kernel opens each such path with O_PATH (no permission needed, and the
descriptor still reaches the path once it is covered), and afterwards binds it back at the same
place from ``/proc/self/fd/N``, read-only, recursively (a user namespace refuses to bind a mount
without the mounts on it). Only those paths come back; nothing else below the covered folders.
Standard library only: the zygote imports this file from beside it, like ``_enter``.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import stat

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC = 1, 2, 4, 8, 32, 4096, 16384
# statvfs flags that a remount must repeat (a user namespace may not clear a locked one).
_KEPT_FLAGS = MS_NOSUID | MS_NODEV | MS_NOEXEC | 16 | 64 | 1024 | 2048 | 4096  # SYNCHRONOUS, MANDLOCK, *ATIME
_libc = ctypes.CDLL(None, use_errno=True)


def below(path: str, folders: list[str]) -> bool:
    """Whether ``path`` lies strictly inside one of ``folders``."""
    return any(path.startswith(f.rstrip("/") + "/") for f in folders if f)


def pin(paths: list[str], covers: list[str]) -> list[tuple[str, int]]:
    """O_PATH descriptors of the ``paths`` that the ``covers`` are about to hide (call before covering)."""
    pinned = []
    for path in dict.fromkeys(os.path.normpath(p) for p in paths):
        if below(path, covers):
            with contextlib.suppress(FileNotFoundError):  # the backend binds only what exists
                pinned.append((path, os.open(path, os.O_PATH | os.O_CLOEXEC)))
    return pinned


def restore(pinned: list[tuple[str, int]]) -> None:
    """Bind each pinned path back at its place, read-only (call after covering, before a new /proc)."""
    for path, fd in pinned:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            os.makedirs(path, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "a"):
                pass
        _mount(f"/proc/self/fd/{fd}", path, MS_BIND | MS_REC)
        flags = os.statvfs(path).f_flag
        if not flags & os.ST_RDONLY:
            _mount("none", path, MS_BIND | MS_REMOUNT | MS_RDONLY | (flags & _KEPT_FLAGS))
        os.close(fd)


def _mount(source: str, target: str, flags: int) -> None:
    if _libc.mount(os.fsencode(source), os.fsencode(target), None, flags, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")

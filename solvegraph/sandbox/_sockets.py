"""Short paths for Unix sockets, wherever the scratch folders are.

A Unix socket's path holds at most 107 bytes (``sun_path``). The kernels' sockets live in their
scratch folders (``$TMPDIR/solvegraph-<uid>/<pid>-<start>/sg-kernels-XXXX/sessions/<16hex>/k-N``),
so a TMPDIR of a few dozen bytes is already too long ("File name too long"). The sockets stay
where they are, bulky neighbours included; what gets short is the path that reaches them: a
symlink to their folder in this process's own private runtime folder::

    <base>/sg-<uid>/<pid>-<start>/<n>  ->  the long folder

``<base>`` is the first of ``$XDG_RUNTIME_DIR``, TMPDIR, /tmp, /dev/shm and /var/tmp that is
short enough and in which ``sg-<uid>`` is, or can be made, a folder of ours that no one else may
enter (0700, owned by us, not a symlink). Like scratch folders, each process's folder is removed
at exit and swept by a later process if this one is killed. A path short enough as it is gets no
alias, so nothing changes where TMPDIR is short.
"""

from __future__ import annotations

import os
import stat
import tempfile
import threading

from ..config import runtime_dir
from ._policy import SandboxError
from ._scratch import ProcessFolders

MAX_SOCKET_PATH = 107  # sun_path is 108 bytes, its last one the NUL
ROOM = 32  # what callers put below a folder they ask for: "/<16 hex>/k-N", "/.zygote.sock"
# <base>/sg-<uid>, leaving room for "/<pid>-<start>/<n>" (1+7+1+20+1+4) and ROOM.
_LONGEST_BASE = MAX_SOCKET_PATH - ROOM - 34

_lock = threading.Lock()
_aliases: dict[tuple[int, str], str] = {}
_chosen: dict[int, str] = {}


def fits(path: str, room: int = ROOM) -> bool:
    """Whether a socket ``room`` bytes below ``path`` fits in ``sun_path``."""
    return len(os.fsencode(path)) + room <= MAX_SOCKET_PATH


def _private(folder: str) -> bool:
    """Make ``folder`` (0700) or accept it if it is already ours alone; False if it cannot be."""
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return False
    try:
        st = os.lstat(folder)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
            return False  # someone else's, or a symlink: never follow it
        if st.st_mode & 0o077:
            os.chmod(folder, 0o700)
    except OSError:
        return False
    return os.access(folder, os.W_OK | os.X_OK)


def base() -> str:
    """``<base>/sg-<uid>``: the short private folder that holds every process's aliases (chosen once)."""
    uid = os.getuid()
    if uid in _chosen:
        return _chosen[uid]
    tmp = tempfile.gettempdir()
    candidates = [runtime_dir() or "", tmp, "/tmp", "/dev/shm", "/var/tmp"]
    for candidate in dict.fromkeys(c for c in candidates if c and os.path.isabs(c)):
        folder = os.path.join(candidate, f"sg-{uid}")
        if len(os.fsencode(folder)) <= _LONGEST_BASE and _private(folder):
            _chosen[uid] = folder
            return folder
    raise SandboxError(
        f"sandbox: no short private folder for Unix sockets: TMPDIR ({len(os.fsencode(tmp))} bytes) is too long "
        "for one and none of XDG_RUNTIME_DIR, /tmp, /dev/shm, /var/tmp can hold a folder of ours; "
        "set XDG_RUNTIME_DIR to a short folder you own"
    )


_folders = ProcessFolders(base, 0o700)


def short_path(path: str, room: int = ROOM) -> str:
    """``path`` itself if a socket ``room`` bytes below it fits, else a short alias of it (a symlink)."""
    if fits(path, room):
        return path
    key = (os.getpid(), path)
    with _lock:
        if key in _aliases:
            return _aliases[key]
        mine = _folders.process_dir()
        link = os.path.join(mine, str(sum(1 for pid, _ in _aliases if pid == key[0]) + 1))
        os.symlink(path, link)
        _aliases[key] = link
    if not fits(link, room):  # only if the caller asked for more room than ROOM
        raise SandboxError(f"sandbox: the socket folder {link} is too long for a Unix socket {room} bytes below it")
    return link


def sweep() -> list[str]:
    """Remove the alias folders of processes that are gone."""
    return _folders.sweep()

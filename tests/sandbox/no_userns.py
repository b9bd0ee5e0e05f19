"""Run a command with user namespaces denied, as Docker's default seccomp profile does.

    python tests/sandbox/no_userns.py CMD ARGS...

A seccomp filter makes ``unshare`` and ``clone`` with CLONE_NEWUSER fail with EPERM and ``clone3``
with ENOSYS (so libc falls back to ``clone``, which the filter can inspect). It is inherited by every
process the command starts, and cannot be lifted.
"""

from __future__ import annotations

import ctypes
import os
import struct
import sys

CLONE_NEWUSER = 0x10000000
AUDIT_ARCH_X86_64 = 0xC000003E
NR_CLONE, NR_UNSHARE, NR_CLONE3 = 56, 272, 435
LD_ABS, JEQ, JSET, RET = 0x20, 0x15, 0x45, 0x06
ALLOW, ERRNO = 0x7FFF0000, 0x00050000


def deny_user_namespaces() -> None:
    prog = [
        (LD_ABS, 0, 0, 4),  # 0: arch
        (JEQ, 0, 6, AUDIT_ARCH_X86_64),  # 1: another arch: allow
        (LD_ABS, 0, 0, 0),  # 2: syscall number
        (JEQ, 5, 0, NR_CLONE3),  # 3: -> ENOSYS
        (JEQ, 1, 0, NR_UNSHARE),  # 4: -> check flags
        (JEQ, 0, 2, NR_CLONE),  # 5: -> check flags, else allow
        (LD_ABS, 0, 0, 16),  # 6: args[0], low 32 bits
        (JSET, 2, 0, CLONE_NEWUSER),  # 7: -> EPERM, else allow
        (RET, 0, 0, ALLOW),  # 8
        (RET, 0, 0, ERRNO | 38),  # 9: ENOSYS
        (RET, 0, 0, ERRNO | 1),  # 10: EPERM
    ]
    raw = b"".join(struct.pack("HBBI", *ins) for ins in prog)
    buf = ctypes.create_string_buffer(raw, len(raw))

    class Fprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = Fprog(len(prog), ctypes.addressof(buf))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
    if libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
        raise OSError(ctypes.get_errno(), "PR_SET_SECCOMP")


if __name__ == "__main__":
    deny_user_namespaces()
    os.execvp(sys.argv[1], sys.argv[1:])

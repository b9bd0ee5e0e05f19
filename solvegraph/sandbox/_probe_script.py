"""Run inside a sandbox by the self-check: tries what hostile code would, reports what it could do.

Standard library only; one JSON object on stdout. Argument: JSON with the host's secret
file, secret value, a host TCP port listening on loopback, a host pid, the host's kernel
version and the limits to probe.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Callable


def attempt(fn: Callable[[], object]) -> tuple[bool, str]:
    """(whether ``fn`` succeeded, what it returned or raised): every failure is an answer."""
    try:
        return True, str(fn())[:200]
    except BaseException as exc:
        return False, f"{type(exc).__name__}: {exc}"[:200]


def read(path: str) -> str:
    with open(path) as fh:
        return fh.read()


def write(path: str) -> str:
    with open(path, "w") as fh:
        fh.write("x")
    return path  # the host checks whether it is there


def main() -> None:
    req = json.loads(sys.argv[1])
    out: dict = {}

    def connect() -> str:
        with socket.create_connection(("127.0.0.1", req["port"]), timeout=2) as s:
            return s.recv(64).decode()

    nets = [n for _, n in socket.if_nameindex()]
    out["network"] = {
        "interfaces": nets,
        "loopback_to_host": attempt(connect),
        "dns": attempt(lambda: socket.getaddrinfo("pypi.org", 443)),
    }
    out["host_files"] = {
        "read_secret": attempt(lambda: read(req["secret_file"])),
        "list_secret_dir": attempt(lambda: os.listdir(os.path.dirname(req["secret_file"]))),
        "write_python": attempt(lambda: write(os.path.join(sys.prefix, "sg-selfcheck-write"))),
        "write_etc": attempt(lambda: write("/etc/sg-selfcheck-write")),
    }
    out["environment"] = {"secret_in_env": req["secret"] in json.dumps(dict(os.environ))}

    def host_pid() -> str:
        os.kill(req["host_pid"], 0)
        return "signalable"

    out["processes"] = {
        "signal_host_pid": attempt(host_pid),
        "host_pid_visible": os.path.exists(f"/proc/{req['host_pid']}"),
        "visible_pids": len([p for p in os.listdir("/proc") if p.isdigit()]),
    }
    out["uid"] = os.getuid()
    try:
        version = read("/proc/version").strip()
    except OSError:
        version = ""
    out["kernel"] = {"version": version, "release": os.uname().release}

    def allocate() -> str:
        block = bytearray(req["memory_mb"] * 2 * 1024 * 1024)
        return f"allocated {len(block) >> 20} MB"

    out["memory"] = attempt(allocate)

    def big_file() -> str:
        path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "sg-big")
        chunk = b"\0" * (1 << 20)
        with open(path, "wb") as fh:
            for _ in range(req["file_size_mb"] * 2):
                fh.write(chunk)
        os.unlink(path)
        return "wrote twice the file-size limit"

    out["file_size"] = attempt(big_file)
    children = []
    error = ""
    for _ in range(req["max_processes"] * 3):
        try:
            pid = os.fork()
        except OSError as exc:
            error = f"{type(exc).__name__}: {exc}"
            break
        if pid == 0:
            time.sleep(30)
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    out["pids"] = {"forked": len(children), "error": error}
    print(json.dumps(out))


if __name__ == "__main__":
    main()

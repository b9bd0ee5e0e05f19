"""The isolation suite every backend runs: does each property it claims hold on this machine?

``solvegraph sandbox check`` and the tests call :func:`self_check`. It sets up what a
hostile program would go after (a secret file outside the sandbox, a secret variable
in solvegraph's environment, a TCP service on the host's loopback, a host process),
runs ``_probe_script.py`` in the backend under small limits, and then starts two fresh
kernels to see whether anything crosses from one session to the next. Every property is
reported, claimed or not; the report fails when a claimed one does not hold.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ._backend import Sandbox
from ._policy import Limits, SandboxError
from ._scratch import scratch_dir

PROBE = str(Path(__file__).with_name("_probe_script.py"))
WRITE_NAME = "sg-selfcheck-write"  # the file _probe_script.py tries to write in sys.prefix and /etc
PROBE_LIMITS = Limits(memory_mb=256, max_processes=32, file_size_mb=8, disk_mb=16)
KERNEL_LIMITS = Limits(memory_mb=1024, max_processes=64, disk_mb=16)

# name -> what it means, as the report says it.
PROPERTIES = {
    "network": "no network: no interface but loopback, the host's loopback services unreachable",
    "host-files": "host files outside the sandbox cannot be read; the system and Python cannot be written",
    "environment": "solvegraph's environment (keys, tokens, database URLs) is not passed on",
    "processes": "host processes can be neither seen nor signalled",
    "uid": "code does not run as root",
    "kernel": "code does not run on the host's kernel (a kernel exploit does not reach the host)",
    "memory": "a process cannot allocate beyond the memory limit",
    "file-size": "no file can grow beyond the file-size limit",
    "pids": "a session cannot start more processes than its limit",
    "other-sessions": "a fresh kernel sees nothing of an earlier session: files, variables, processes",
    "disk": "a kernel's writable folders are capped at the disk limit",
}


@dataclass
class Property:
    name: str
    claimed: bool
    holds: bool
    detail: str

    @property
    def failed(self) -> bool:
        return self.claimed and not self.holds


@dataclass
class CheckReport:
    backend: dict[str, Any]
    properties: list[Property] = field(default_factory=list)
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and not any(p.failed for p in self.properties)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "backend": self.backend,
            "error": self.error or None,
            "properties": [{**asdict(p), "meaning": PROPERTIES[p.name]} for p in self.properties],
        }


class _Host:
    """What the probe goes after: a secret file and variable, a loopback service, a host process."""

    def __init__(self) -> None:
        self.secret = "sg-selfcheck-" + secrets.token_hex(8)
        self.dir = scratch_dir("sg-secret-")
        self.file = os.path.join(self.dir, "secret.txt")
        Path(self.file).write_text(self.secret)
        os.chmod(self.file, 0o644)
        os.chmod(self.dir, 0o755)  # readable by anyone on the host: only isolation can hide it
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()
        self.sleeper = subprocess.Popen(["sleep", "60"], stdin=subprocess.DEVNULL)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with contextlib.suppress(OSError):
                conn.sendall(b"host service\n")
                conn.close()

    def close(self) -> None:
        self.sleeper.kill()
        self.sleeper.wait()
        self.server.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def self_check(sandbox: Sandbox, *, kernel: bool = True) -> CheckReport:
    """Run the suite against ``sandbox``; never raises for what the sandboxed code did."""
    claims = set(sandbox.claimed())
    report = CheckReport(sandbox.describe())
    host = _Host()
    var = "SOLVEGRAPH_SELFCHECK_SECRET"
    os.putenv(var, host.secret)  # in the C environment a child would inherit if the backend let it
    workdir = scratch_dir("sg-check-")
    # Where the probe tries to write, as the host names them (the probe runs this interpreter with -S,
    # so its sys.prefix is our base prefix):
    # a write counts only if the file appears here, and only what the probe made is removed.
    writes = {"write_python": os.path.join(sys.base_prefix, WRITE_NAME), "write_etc": os.path.join("/etc", WRITE_NAME)}
    there_before = {k for k, path in writes.items() if os.path.lexists(path)}
    try:
        req = {
            "secret_file": host.file,
            "secret": host.secret,
            "port": host.port,
            "host_pid": host.sleeper.pid,
            "memory_mb": PROBE_LIMITS.memory_mb,
            "file_size_mb": PROBE_LIMITS.file_size_mb,
            "max_processes": PROBE_LIMITS.max_processes,
        }
        result = sandbox.run(
            [sys.executable, "-I", "-S", PROBE, json.dumps(req)], workdir=workdir, limits=PROBE_LIMITS, timeout=120
        )
        try:
            found = json.loads(result.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            tail = (result.stderr.strip() or result.stdout.strip() or f"exit code {result.returncode}")[-300:]
            report.error = f"the probe did not finish in the sandbox: {tail}"
            return report
        found["host_writes"] = [k for k, path in writes.items() if k not in there_before and os.path.lexists(path)]
        for name, holds, detail in _judge(found, host):
            report.properties.append(Property(name, name in claims, holds, detail))
        if kernel:
            for name, holds, detail in _kernel_checks(sandbox):
                report.properties.append(Property(name, name in claims, holds, detail))
    except SandboxError as exc:
        report.error = str(exc)
    finally:
        for key, path in writes.items():
            if key not in there_before:
                with contextlib.suppress(OSError):
                    os.unlink(path)
        os.unsetenv(var)
        host.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return report


def _judge(found: dict[str, Any], host: _Host) -> list[tuple[str, bool, str]]:
    out: list[tuple[str, bool, str]] = []
    net = found["network"]
    reached = net["loopback_to_host"][0]
    others = [n for n in net["interfaces"] if n != "lo"]
    out.append(
        (
            "network",
            not reached and not others,
            f"interfaces {net['interfaces'] or 'none'}; host loopback service "
            + ("reached" if reached else "unreachable")
            + ("; DNS answered" if net["dns"][0] else "; no DNS"),
        )
    )
    files = found["host_files"]
    read = files["read_secret"][0] and host.secret in files["read_secret"][1]
    wrote = found["host_writes"]
    out.append(
        (
            "host-files",
            not read and not wrote,
            ("read a host file outside the sandbox" if read else "a host file outside the sandbox is invisible")
            + (f"; could write: {', '.join(wrote)}" if wrote else "; system and Python read-only"),
        )
    )
    leaked = found["environment"]["secret_in_env"]
    out.append(("environment", not leaked, "a secret variable " + ("reached" if leaked else "did not reach") + " it"))
    signalled = found["processes"]["signal_host_pid"][0]
    seen = found["processes"]["host_pid_visible"]
    out.append(
        (
            "processes",
            not signalled and not seen,
            f"host process {'visible' if seen else 'invisible'}, {'signalled' if signalled else 'not signalable'}; "
            f"{found['processes']['visible_pids']} pids visible",
        )
    )
    out.append(("uid", found["uid"] != 0, f"runs as uid {found['uid']}"))
    host_version = Path("/proc/version").read_text().strip() if os.path.exists("/proc/version") else ""
    own = found["kernel"]["version"]
    out.append(("kernel", bool(own) and own != host_version, f"sees kernel: {own[:60] or 'unknown'}"))
    allocated, detail = found["memory"]
    limit = PROBE_LIMITS.memory_mb
    out.append(("memory", not allocated, f"{2 * limit} MB under a {limit} MB limit: {detail}"))
    wrote_big, detail = found["file_size"]
    limit = PROBE_LIMITS.file_size_mb
    out.append(("file-size", not wrote_big, f"a {2 * limit} MB file under {limit} MB: {detail}"))
    forked = found["pids"]["forked"]
    capped = forked < PROBE_LIMITS.max_processes * 3
    out.append(
        (
            "pids",
            capped,
            f"{forked} processes started under a limit of {PROBE_LIMITS.max_processes}"
            + (f" ({found['pids']['error']})" if found["pids"]["error"] else ""),
        )
    )
    return out


def _kernel_checks(sandbox: Sandbox) -> list[tuple[str, bool, str]]:
    from ._kernels import KernelFactory

    factory = KernelFactory(sandbox, KERNEL_LIMITS, preload=())
    try:
        token = secrets.token_hex(6)
        leave = (
            "import subprocess\n"
            f"open('/tmp/{token}', 'w').write('x')\n"
            f"open('{token}', 'w').write('x')\n"
            "subprocess.Popen(['sleep', '60'])\n"
            f"SECRET = '{token}'"
        )
        first = _cell(factory, leave, keep=True)
        code = (
            "import os, json\n"
            f"found = [p for p in ('/tmp/{token}', '{token}') if os.path.exists(p)]\n"
            f"found += ['variable'] if 'SECRET' in globals() else []\n"
            "procs = [open(f'/proc/{p}/cmdline').read() for p in os.listdir('/proc') if p.isdigit()]\n"
            "found += ['sleep process'] if any('sleep' in c for c in procs) else []\n"
            "try:\n"
            "    with open('/tmp/fill', 'wb') as fh:\n"
            f"        for _ in range({KERNEL_LIMITS.disk_mb * 2}): fh.write(b'0' * (1 << 20))\n"
            "    disk = 'filled twice the limit'\n"
            "except OSError as exc:\n"
            "    disk = f'stopped: {exc.strerror}'\n"
            "print(json.dumps({'found': found, 'disk': disk}))"
        )
        second = json.loads(_cell(factory, code).strip().splitlines()[-1])
        first[1].kill()
        crossed = second["found"]
        return [
            (
                "other-sessions",
                not crossed,
                "a fresh kernel saw " + (", ".join(crossed) if crossed else "nothing of the earlier session"),
            ),
            (
                "disk",
                second["disk"].startswith("stopped"),
                f"{2 * KERNEL_LIMITS.disk_mb} MB into /tmp under {KERNEL_LIMITS.disk_mb} MB: {second['disk']}",
            ),
        ]
    except (SandboxError, ValueError, IndexError, OSError, RuntimeError) as exc:
        return [("other-sessions", False, f"kernels could not be checked: {exc}")]
    finally:
        factory.close()


def _cell(factory: Any, code: str, keep: bool = False) -> Any:
    """Run ``code`` in a fresh kernel; its stdout (and, with ``keep``, the live kernel too)."""
    from ._client import connect, wait_ready

    proc = factory.spawn()
    client = connect(proc)
    try:
        wait_ready(client, 60)
        out: list[str] = []
        reply = client.execute_interactive(code, timeout=60, output_hook=_collector(out))
        if reply["content"]["status"] != "ok":
            raise SandboxError(f"the check's cell failed: {reply['content'].get('evalue', '')}")
    finally:
        client.stop_channels()
        if not keep:
            proc.kill()
    text = "".join(out)
    return (text, proc) if keep else text


def _collector(sink: list[str]) -> Any:
    def hook(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "stream":
            sink.append(msg["content"]["text"])

    return hook

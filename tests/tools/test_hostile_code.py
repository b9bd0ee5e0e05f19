"""Model-written code is adversarial: each attack runs through the python tool, containment is checked from the host.

These need the bubblewrap backend (skipped, with the reason, where it cannot run).
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from solvegraph.plugins import PluginManager, ToolSession
from solvegraph.sandbox import SandboxError, resolve_sandbox

try:
    resolve_sandbox("bwrap")
    NO_BWRAP = ""
except SandboxError as exc:
    NO_BWRAP = str(exc)

pytestmark = pytest.mark.skipif(bool(NO_BWRAP), reason=NO_BWRAP or "bwrap works")


@pytest.fixture(scope="module")
def python_tool():
    return PluginManager().tools()["python"]


@pytest.fixture
def session() -> Iterator[ToolSession]:
    with ToolSession(options={"cell_timeout": 5, "sandbox": "bwrap", "kernel_memory_mb": 1024}) as s:
        yield s


def run(tool, session, code: str):
    return tool.run({"code": code}, session)


def test_host_secrets_are_not_in_the_environment_or_proc(python_tool, session, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-hostile-test-secret")
    monkeypatch.setenv("SOLVEGRAPH_DB", "postgresql://user:pw@db/secret")
    code = (
        "import os, glob\n"
        "print(dict(os.environ))\n"
        "for p in glob.glob('/proc/*/environ'):\n"
        "    try: print(open(p, 'rb').read())\n"
        "    except OSError: pass\n"
        "print(os.listdir('/proc'))"
    )
    with ToolSession(options={"cell_timeout": 5, "sandbox": "bwrap"}) as fresh:
        out = run(python_tool, fresh, code).output
    assert "sk-hostile-test-secret" not in out and "postgresql://" not in out
    pids = [p for p in out.splitlines()[-1].strip("[]").replace("'", "").split(", ") if p.isdigit()]
    assert pids and max(int(p) for p in pids) < 50, f"only the session's own processes are visible: {pids}"


def test_files_outside_the_working_folder_cannot_be_read_or_written(python_tool, session, tmp_path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret")
    target = Path.home() / "sg-hostile-write-test"
    code = (
        f"for p in [{str(secret)!r}, '/etc/shadow', '/root/.bashrc', {str(Path.cwd() / 'pyproject.toml')!r}]:\n"
        "    try: print('READ', p, open(p).read()[:20])\n"
        "    except OSError as e: print('denied', p, type(e).__name__)\n"
        f"for p in [{str(target)!r}, '/usr/lib/sg-test', {str(tmp_path / 'planted')!r}]:\n"
        "    try: open(p, 'w').write('x'); print('WROTE', p)\n"
        "    except OSError as e: print('denied', p, type(e).__name__)"
    )
    out = run(python_tool, session, code).output
    assert "host secret" not in out and "READ" not in out, out
    assert "WROTE" not in out, out
    assert not target.exists() and not (tmp_path / "planted").exists()


def test_no_network_not_even_loopback(python_tool, session) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    accepted: list = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    code = (
        "import socket\n"
        f"try: socket.create_connection(('127.0.0.1', {port}), timeout=2); print('CONNECTED')\n"
        "except OSError as e: print('refused', e)\n"
        "try: socket.create_connection(('1.1.1.1', 53), timeout=2); print('CONNECTED')\n"
        "except OSError as e: print('unreachable', e)"
    )
    out = run(python_tool, session, code).output
    time.sleep(0.2)
    server.close()
    assert "CONNECTED" not in out and not accepted, out


def test_signals_cannot_reach_host_processes_or_solvegraph(python_tool, session) -> None:
    victim = subprocess.Popen(["sleep", "30"])
    try:
        code = (
            "import os, signal\n"
            f"for pid in ({victim.pid}, {os.getpid()}, 1):\n"
            "    try: os.kill(pid, signal.SIGKILL); print('sent', pid)\n"
            "    except OSError as e: print('denied', pid, type(e).__name__)"
        )
        run(python_tool, session, code)
        time.sleep(0.3)
        assert victim.poll() is None, "a host process was killed from the sandbox"
    finally:
        victim.kill()
    # solvegraph (this process) is alive, and the session recovers (the kernel may have killed itself: pid 1)
    assert run(python_tool, session, "print(7)").output.strip() == "7"


def test_process_flood_is_capped_and_nothing_outlives_the_session(python_tool) -> None:
    marker = "sg-hostile-sleeper-4711"
    code = (
        "import subprocess\n"
        "procs = []\n"
        "try:\n"
        "    for i in range(300):\n"
        f"        procs.append(subprocess.Popen(['bash', '-c', 'exec -a {marker} sleep 300']))\n"
        "except OSError as e:\n"
        "    print('capped after', len(procs), type(e).__name__)\n"
        "print('started', len(procs))"
    )
    with ToolSession(options={"cell_timeout": 20, "sandbox": "bwrap"}) as s:
        out = run(python_tool, s, code).output
    assert "capped after" in out, out
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.split()
    assert not left, f"{len(left)} processes outlived the session"


def test_disk_fill_is_capped(python_tool, session) -> None:
    code = (
        "import os\n"
        "n = 0\n"
        "try:\n"
        "    with open('fill.bin', 'wb') as f:\n"
        "        for _ in range(4096):\n"
        "            f.write(b'\\0' * (1 << 20)); n += 1\n"
        "except OSError as e:\n"
        "    print('stopped at', n, 'MB', type(e).__name__)"
    )
    out = run(python_tool, session, code).output
    assert "stopped at" in out, out
    assert int(out.split("stopped at")[1].split()[0]) <= 600


def test_memory_bomb_fork_bomb_and_huge_print(python_tool, session) -> None:
    assert run(python_tool, session, "b = bytearray(8 * 10**9)").error.startswith("MemoryError")
    fork = (
        "import os\n"
        "pids = []\n"
        "for _ in range(4):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        try: x = bytearray(900 * 10**6)\n"
        "        finally: os._exit(0)\n"
        "    pids.append(pid)\n"
        "for p in pids: os.waitpid(p, 0)\n"
        "print('done')"
    )
    run(python_tool, session, fork)
    printed = run(python_tool, session, "print('z' * (100 * 10**6))")
    # At a 1 GB cap the kernel may fail to ship 100 MB (a MemoryError in its output thread); either
    # way what reaches solvegraph is bounded, and solvegraph and the session survive.
    assert len(printed.output) < 100_000
    assert run(python_tool, session, "print('alive')").output.strip() == "alive"


def test_no_state_crosses_sessions(python_tool) -> None:
    tamper = (
        "import math, builtins, os, threading, atexit, numpy\n"
        "math.sqrt = lambda x: 42\n"
        "numpy.pi = 3\n"
        "builtins.print_orig = print\n"
        "os.environ['SG_TAMPER'] = '1'\n"
        "get_ipython().input_transformers_post.append(lambda lines: ['1/0\\n'])\n"
        "get_ipython().events.register('pre_run_cell', lambda *a: os.environ.__setitem__('SG_HOOK', '1'))\n"
        "def spoil():\n    while True: __import__('time').sleep(0.01); math.pi = 3\n"
        "threading.Thread(target=spoil, daemon=True).start()\n"
        "atexit.register(lambda: open('/tmp/atexit', 'w'))\n"
        "import glob; print(glob.glob('/sg-sessions/*'), glob.glob('/session/run/*'))\n"
        "history_secret = 'cell-history-4711'"
    )
    with ToolSession(options={"sandbox": "bwrap"}) as first:
        first_out = run(python_tool, first, tamper).output
        with ToolSession(options={"sandbox": "bwrap"}) as second:  # concurrent with the first
            check = (
                "import math, numpy, os, glob\n"
                "print(math.sqrt(16), numpy.pi, math.pi, os.environ.get('SG_TAMPER'), os.environ.get('SG_HOOK'))\n"
                "print(glob.glob('/sg-sessions/*'))\n"
                "hm = get_ipython().history_manager\n"
                "print(list(hm.get_range_by_str('1-100')) if hm.enabled else 'no history')"
            )
            out = run(python_tool, second, check).output
    assert "4.0 3.141592653589793 3.141592653589793 None None" in out, out
    assert "cell-history-4711" not in out
    assert "[]" in out.splitlines()[1], "another session's run folder is visible"
    assert first_out.splitlines()[0].startswith("[] ["), "the shared sessions folder must look empty"

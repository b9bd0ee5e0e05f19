"""Run the viewer: uvicorn on loopback, one clear line when the port is taken, the browser opened."""

from __future__ import annotations

import errno
import socket
import threading
import webbrowser
from typing import TYPE_CHECKING

import uvicorn

from ..errors import SolvegraphError
from ._app import make_app

if TYPE_CHECKING:
    from ..memory import TrajectoryStore


def serve(store: TrajectoryStore, *, host: str = "127.0.0.1", port: int = 8321, open_browser: bool = True) -> None:
    """Serve ``store`` until Ctrl-C. Port 0 picks a free one; a taken port is a one-line error."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise SolvegraphError(
                f"port {port} on {host} is in use; pick another with --port N (0: any free one)"
            ) from None
        raise SolvegraphError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    url = f"http://{host}:{sock.getsockname()[1]}/"
    config = uvicorn.Config(make_app(store), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    print(f"solvegraph view: {url} (Ctrl-C to stop)", flush=True)
    if open_browser:
        threading.Timer(0.5, webbrowser.open, (url,)).start()
    server.run(sockets=[sock])

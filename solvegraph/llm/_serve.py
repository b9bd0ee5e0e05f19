"""Runs llama.cpp's OpenAI-compatible server, and dies with the process that started it.

The parent stops the server on exit and on Ctrl-C; this watchdog also covers the
case the parent cannot handle (kill -9), so no server is ever left orphaned.
"""

import os
import sys
import threading
import time


def _watch(parent: int) -> None:
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


def main() -> None:
    parent = int(sys.argv[1])
    sys.argv = ["llama_cpp.server", *sys.argv[2:]]
    threading.Thread(target=_watch, args=(parent,), daemon=True).start()
    import runpy

    runpy.run_module("llama_cpp.server", run_name="__main__")


if __name__ == "__main__":
    main()

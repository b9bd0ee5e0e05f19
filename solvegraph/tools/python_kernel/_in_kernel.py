"""Runs inside the kernel process: a fast namespace reset between sessions.

IPython's reset forces full garbage collections, which cost ~150 ms once sympy's
object graph is loaded. The namespace, history and output caches are still
cleared; unreachable cycles are left to the normal generational collector.
"""

from __future__ import annotations

import gc
import os
from typing import Any


def reset(workdir: str) -> None:
    from IPython import get_ipython

    shell: Any = get_ipython()
    collect = gc.collect
    gc.collect = lambda *args, **kwargs: 0  # type: ignore[assignment]
    try:
        shell.reset(new_session=False)
    finally:
        gc.collect = collect
    os.chdir(workdir)

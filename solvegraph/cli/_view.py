"""``solvegraph view``: the local web viewer of the memory store."""

from __future__ import annotations

import contextlib
from typing import Annotated

import typer

from ..errors import SolvegraphError
from ._settings import open_store, settings_with


def view(
    db: Annotated[str | None, typer.Option("--db", help="Memory database URL [env SOLVEGRAPH_DB].")] = None,
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port on 127.0.0.1 (0: any free one).")] = 8321,
    no_open: Annotated[bool, typer.Option("--no-open", help="Do not open a browser.")] = False,
    config: Annotated[str | None, typer.Option("--config", help="Settings file.")] = None,
) -> None:
    """Look at runs, their samples and each trajectory in a local web viewer (127.0.0.1 only)."""
    from ..view import serve

    url = settings_with({"db": db}, config).db or ""
    if url.startswith("sqlite:///") and not url.endswith(":memory:"):
        from pathlib import Path

        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_file():
            raise SolvegraphError(f"no memory database at {path}: run a solve or bench first, or pass --db")
    store = open_store(db, config)
    store.stats()  # a file that is not a solvegraph memory fails here, in one line, before the server starts
    with contextlib.suppress(KeyboardInterrupt):
        serve(store, port=port, open_browser=not no_open)


__all__ = ["view"]

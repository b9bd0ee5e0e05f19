"""``solvegraph view``: a local web viewer over the memory store (Starlette, server-rendered, escaped).

:func:`make_app` builds the ASGI app over a store; :func:`serve` runs it with uvicorn on 127.0.0.1;
:func:`render_report` writes the static report of ``bench report --html`` from the same templates.
"""

from ._app import make_app
from ._report import render_report
from ._serve import serve

__all__ = ["make_app", "render_report", "serve"]

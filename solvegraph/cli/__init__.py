"""The ``solvegraph`` command (entry point ``solvegraph = solvegraph.cli:main``; also ``python -m solvegraph.cli``).

One module per command group, behind this re-exporting package: ``_solve``, ``_chat`` (and the terminal
side, ``_chat_terminal``), ``_bench``, ``_data``, ``_memory`` (``runs`` and ``memory``), ``_plugins``,
``_mcp``, ``_sandbox`` and ``_view``; the options the model-calling commands share are declared once in
``_options`` and turned into settings in one place, ``_settings``.
"""

from ._main import app, main
from ._solve import TRUST_LINES, exit_code

__all__ = ["TRUST_LINES", "app", "exit_code", "main"]

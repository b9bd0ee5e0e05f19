"""The ``solvegraph`` command: its command groups put together, and the one place errors become exit codes.

Each command group lives in a module of its own (``_solve``, ``_chat``, ``_bench``, ...); the options they
share are declared once in :mod:`._options`, and their settings come from one resolver (:mod:`._settings`).
"""

from __future__ import annotations

import logging
import signal
import sys
from typing import Annotated, Any

import typer

from .. import __version__
from ..errors import SolvegraphError
from . import _collector as collector
from ._bench import bench_app
from ._chat import chat
from ._console import console, shown
from ._data import data_app
from ._mcp import mcp_app
from ._memory import memory_app, runs_app
from ._options import click_errors
from ._plugins import plugins_app
from ._sandbox import sandbox_app
from ._solve import solve
from ._verify import verify
from ._view import view

app = typer.Typer(
    help="LLM agents that solve problems by calling real tools: a planner, solver, verifier and refiner.\n\n"
    "With no --base-url, an embedded SmolLM2-135M model runs offline; it proves the plumbing but cannot "
    "solve hard problems: point --base-url at a capable OpenAI-compatible endpoint for real work.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Help texts are plain: "[env SOLVEGRAPH_LEAN]" and "[options]" were eaten as rich markup.
    rich_markup_mode=None,
)
# In the order `solvegraph --help` has always listed them.
app.command()(solve)
app.add_typer(plugins_app, name="plugins")
app.add_typer(runs_app, name="runs")
app.add_typer(memory_app, name="memory")
app.add_typer(bench_app, name="bench")
app.add_typer(data_app, name="data")
app.command()(chat)
app.add_typer(mcp_app, name="mcp")
app.add_typer(sandbox_app, name="sandbox")

err = console(stderr=True)


def _version(value: bool) -> None:
    if value:
        print(f"solvegraph {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")] = False,
) -> None:
    pass


def _on_sigterm(signum: int, frame: Any) -> None:
    # Turn SIGTERM into a normal exit so atexit stops the kernel pool and the embedded server.
    raise SystemExit(128 + signum)


app.command()(view)
app.command()(verify)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s", stream=sys.stderr)
    # jupyter_client says this when a kernel client is collected with its channels still open: at exit after
    # Ctrl-C, a client whose event loop was cancelled with the solve. Its kernel is stopped by the pool at
    # exit; the line only alarmed users ("warning: Could not destroy zmq context for ...").
    logging.getLogger("traitlets").addFilter(lambda record: not str(record.msg).startswith("Could not destroy zmq"))
    signal.signal(signal.SIGTERM, _on_sigterm)
    collector.pause()  # until the command's start is over (see _collector)
    try:
        code = app(standalone_mode=False)
    except click_errors.NoArgsIsHelpError as exc:
        exc.show()  # the command's help, as click shows it
        sys.exit(exc.exit_code)
    except click_errors.UsageError as exc:
        # One line naming the flag and what it accepts, where click would print usage, a hint and the error.
        hint = f" (see: {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
        err.print(f"error: {exc.format_message()}{hint}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except click_errors.ClickException as exc:
        err.print(f"error: {exc.format_message()}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted", markup=False, highlight=False)
        sys.exit(1)
    except SolvegraphError as exc:
        err.print(f"[red]error:[/] {shown(exc)}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)

"""Live display of agent events on stderr, so stdout stays clean for answers and --json."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.syntax import Syntax
from rich.text import Text

from .._vocabulary import inert

TYPE_CHECKING = False  # not typing's: a constant of this name is read as true by type checkers
if TYPE_CHECKING:
    from ..types import Event

# Model, tool or dataset text made inert for a terminal (it lives with the types: the bench's report uses it too).
safe = inert


def shown(text: object) -> str:
    """``safe`` text escaped for a rich markup string, so a '[/x]' in it is shown, never read as markup."""
    return escape(safe(text))


class _LineConsole(Console):
    """Not on a terminal (a pipe, a log file, CI), a printed line is never folded: rich would wrap it at 80
    columns and split a printed command (``solvegraph bench --resume ...``) over two lines. Panels and
    tables are laid out as before: soft wrapping would crop what they hold."""

    def print(self, *objects: Any, soft_wrap: bool | None = None, **kwargs: Any) -> None:
        if soft_wrap is None and not self.is_terminal and all(isinstance(o, str) for o in objects):
            soft_wrap = True
        super().print(*objects, soft_wrap=soft_wrap, **kwargs)


def console(*, stderr: bool = False) -> Console:
    """A console for the CLI (see :class:`_LineConsole`)."""
    return _LineConsole(stderr=stderr)


def outcome_words(solved: bool, trust: str) -> str:
    """How an answer was accepted, in words that claim no more than was checked: an answer no tool and no
    verifier checked is "answered, unchecked", never "solved"."""
    if not solved:
        return "not solved"
    return {
        "cross-verified": "verified by a tool and cross-checked",
        "tool-verified": "verified by a tool",
        "model-accepted": "accepted by the verifier model only",
    }.get(trust, "answered, unchecked")


_STYLE = {"planner": "cyan", "solver": "green", "verifier": "magenta", "refiner": "yellow", "graph": "bold"}


class EventPrinter:
    def __init__(self, console: Console, max_chars: int = 1500) -> None:
        self.console = console
        self.max_chars = max_chars

    def _cut(self, text: str) -> str:
        text = safe(text).rstrip()
        return text if len(text) <= self.max_chars else text[: self.max_chars] + " …"

    def _text(self, text: str) -> Text:
        """Model and tool text as plain data: never read as rich markup (a '[/x]' in it must not raise)."""
        return Text(self._cut(text))

    def __call__(self, event: Event) -> None:
        style = _STYLE.get(event.agent, "white")
        title = f"[{style}]{event.agent}[/] · round {event.round} · {event.kind}"
        d = event.data
        if event.kind == "plan":
            self.console.print(Panel(self._text(d["plan"]), title=title, title_align="left", border_style=style))
        elif event.kind == "code":
            args = d.get("arguments") or {}
            if d.get("tool") == "python" and isinstance(args, dict) and "code" in args:
                code = Syntax(self._cut(str(args["code"])), "python", word_wrap=True)
                self.console.print(Panel(code, title=title, title_align="left", border_style=style))
            else:
                self.console.print(Panel(self._text(f"{d.get('tool')}({args})"), title=title, title_align="left"))
        elif event.kind == "tool_output":
            body = self._text(d.get("output") or "")
            if not d.get("ok"):
                body.append("\nerror: " if body.plain else "error: ", style="red")
                body.append(self._cut(str(d.get("error"))))
            self.console.print(
                Panel(
                    body if body.plain else Text("(no output)"),
                    title=f"{title} · {shown(d.get('tool'))}",
                    title_align="left",
                    border_style="red" if not d.get("ok") else "dim",
                )
            )
        elif event.kind == "verdict":
            mark = "[green]ACCEPT[/]" if d.get("accepted") else "[red]REJECT[/]"
            how = shown(f"({d.get('source')}{', ' + d['trust'] if d.get('trust') else ''})")
            self.console.print(f"{title}: {mark} {how} {escape(self._cut(str(d.get('feedback', ''))))}")
        elif event.kind == "guidance":
            self.console.print(Panel(self._text(d["guidance"]), title=title, title_align="left", border_style=style))
        elif event.kind == "answer" and event.agent == "memory":
            self.console.print(
                f"[bold]answered from the exact cache[/]: the same problem and configuration were answered by "
                f"{shown(d.get('source'))}; no model was called",
                highlight=False,
            )
        elif event.kind == "resume":
            self.console.print(self._text(str(d.get("note", ""))), highlight=False)
        elif event.kind == "gave_up":
            self.console.print(f"[bold red]not solved[/]: {shown(d.get('reason'))}")


def check_sandbox(mode: str) -> None:
    """Resolve the sandbox backend; in auto mode without bubblewrap, say once on stderr what is not isolated."""
    from ..sandbox import resolve_sandbox  # not at import: listing commands never load the sandbox

    backend = resolve_sandbox(mode)
    if backend.warning:
        console(stderr=True).print(backend.warning, markup=False, highlight=False)

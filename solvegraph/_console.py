"""Live display of agent events on stderr, so stdout stays clean for answers and --json."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.syntax import Syntax

from .agents import Event

_STYLE = {"planner": "cyan", "solver": "green", "verifier": "magenta", "refiner": "yellow", "graph": "bold"}


class EventPrinter:
    def __init__(self, console: Console, max_chars: int = 1500) -> None:
        self.console = console
        self.max_chars = max_chars

    def _cut(self, text: str) -> str:
        text = text.rstrip()
        return text if len(text) <= self.max_chars else text[: self.max_chars] + " …"

    def __call__(self, event: Event) -> None:
        style = _STYLE.get(event.agent, "white")
        title = f"[{style}]{event.agent}[/] · round {event.round} · {event.kind}"
        d = event.data
        if event.kind == "plan":
            self.console.print(Panel(self._cut(d["plan"]), title=title, title_align="left", border_style=style))
        elif event.kind == "code":
            args = d.get("arguments") or {}
            if d.get("tool") == "python" and isinstance(args, dict) and "code" in args:
                body = Syntax(self._cut(str(args["code"])), "python", word_wrap=True)
                self.console.print(Panel(body, title=title, title_align="left", border_style=style))
            else:
                self.console.print(Panel(self._cut(f"{d.get('tool')}({args})"), title=title, title_align="left"))
        elif event.kind == "tool_output":
            text = d.get("output") or ""
            if not d.get("ok"):
                text = f"{text}\n[red]error:[/] {d.get('error')}".strip()
            self.console.print(
                Panel(
                    self._cut(text) or "(no output)",
                    title=f"{title} · {d.get('tool')}",
                    title_align="left",
                    border_style="red" if not d.get("ok") else "dim",
                )
            )
        elif event.kind == "verdict":
            mark = "[green]ACCEPT[/]" if d.get("accepted") else "[red]REJECT[/]"
            how = escape(f"({d.get('source')}{', ' + d['trust'] if d.get('trust') else ''})")
            self.console.print(f"{title}: {mark} {how} {escape(self._cut(d.get('feedback', '')))}")
        elif event.kind == "guidance":
            self.console.print(Panel(self._cut(d["guidance"]), title=title, title_align="left", border_style=style))
        elif event.kind == "gave_up":
            self.console.print(f"[bold red]not solved[/]: {d.get('reason')}")

"""``solvegraph chat``: a multi-turn session whose kernel lives across turns (the terminal side is
:mod:`._chat_terminal`)."""

from __future__ import annotations

import shlex
from typing import Annotated

import typer

from .._vocabulary import dollars, verified
from ..errors import PromptRefusedError, SolvegraphError
from ._console import console, outcome_words, safe, shown
from ._memory import record_switch
from ._options import SHARED_OPTIONS, SolvingOptions, SwitchModel, solving_options
from ._settings import settings_from
from ._solve import ctrl_c_stops_the_cell, resumed_settings, runner_for

err = console(stderr=True)


@solving_options()
def chat(
    ctx: typer.Context,
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume",
            metavar="RUN",
            help="Continue a chat run (its id or a unique prefix, as printed when it ended or by 'runs list') "
            "with its settings and earlier turns; the kernel is new, so earlier variables are gone.",
        ),
    ] = None,
    switch_model: SwitchModel = False,
    opts: SolvingOptions = SHARED_OPTIONS,
    approve: Annotated[
        bool,
        typer.Option(
            "--approve",
            help="Ask before each tool call, shown highlighted: approve, edit it ($VISUAL or $EDITOR on its code, "
            "or its arguments as JSON; a multi-line prompt when neither is set), or reject with a reason.",
        ),
    ] = False,
) -> None:
    """Interactive multi-turn session; each agent's step is shown live. 'exit' or Ctrl-D ends it.

    At a terminal: line editing, arrow-up history (kept per user across sessions), a pasted block of
    lines as one question, Esc-Enter or a trailing backslash for a new line, Ctrl-C to clear the line.
    A spinner shows what runs while a turn goes on. The Python kernel persists across turns, so later
    questions can use earlier variables. Ctrl-C during a turn cancels that turn only (the running cell is
    interrupted; the session goes on). From a pipe, each line is a question.
    """
    if switch_model and resume is None:
        raise SolvegraphError("--switch-model goes with --resume RUN")
    if resume is not None and opts.no_memory:
        raise SolvegraphError("--resume reads the memory store; drop --no-memory")
    from ._chat_terminal import EXIT_WORDS, Approval, TurnDisplay, open_lines  # rich.live, prompt_toolkit

    history: list[tuple[str, str | None]] = []
    if resume is not None:
        resumed = resumed_settings(ctx, opts, switch_model, resume, "chat")
        graph = runner_for(resumed.settings, run_kind="chat")
        if graph.memory is not None:  # the new turns join the same run
            graph.memory.run_id = resumed.run_id
            history = [(t.problem, t.answer) for t in map(graph.memory.store.load, resumed.trajectories)]
        err.print(
            f"continuing chat {resumed.run_id[:12]}: {len(history)} earlier turns (the kernel is new: earlier "
            "variables are gone)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    else:
        graph = runner_for(settings_from(opts), run_kind="chat")
    graph.warm_tools()  # the kernel boots while the user types, and the model client's transport loads
    from ..llm import preload_transport

    preload_transport()
    lines = open_lines(err)
    display = TurnDisplay(err)
    approver = Approval(err, lines, display) if approve else None
    err.print(
        f"solvegraph chat · model [bold]{shown(graph.client.model)}[/] at {shown(graph.client.base_url)} · "
        f"{shown(lines.keys)}",
        highlight=False,
    )
    earlier = len(history)
    from ..agents import SolveRequest
    from ..plugins import ToolSession
    from ..types import Trajectory

    with ToolSession(options=graph.session_options) as session:
        while True:
            line = lines.question()
            if line is None:
                break
            line = line.strip()
            if not line:
                continue
            if line in EXIT_WORDS:
                break
            context = "\n".join(f"Earlier question: {q}\nEarlier answer: {a}" for q, a in history[-5:])
            trajectory = Trajectory(problem=line, model=graph.client.model)
            try:
                # The running cell stops on Ctrl-C; its variables before it stay.
                with ctrl_c_stops_the_cell(session), display.running():
                    request = SolveRequest(
                        problem=line, context=context, session=session, approver=approver, trajectory=trajectory
                    )
                    trajectory = graph.solve(request, on_event=display.on_event)
            except KeyboardInterrupt:
                if graph.checkpointer is not None:  # a cancelled turn is not for --resume: leave no checkpoint
                    graph.checkpointer.delete_thread(trajectory.id)
                err.print("turn cancelled; the session and its kernel go on", markup=False, highlight=False)
                continue
            except PromptRefusedError as exc:
                # Most often a long session outgrowing the context: this question fails, the session does not.
                err.print(f"refused: {exc}; the session goes on", markup=False, highlight=False)
                continue
            history.append((line, trajectory.answer))
            words = outcome_words(trajectory.solved, trajectory.trust)
            status = f"[green]{words}[/]" if verified(trajectory.trust) else f"[yellow]{words}[/]"
            cost = trajectory.usage.cost_usd
            priced = f" · {dollars(cost)}" if cost is not None else ""
            err.print(f"{status} · {trajectory.usage.total_tokens} tokens{priced} · {len(trajectory.steps)} steps")
            print(f"answer: {safe(trajectory.answer) if trajectory.answer is not None else '(none)'}", flush=True)
    if graph.memory is not None and graph.memory.run_id is not None:
        if resume is not None and len(history) > earlier:  # the other model answered: the switch is recorded
            record_switch(graph.memory.store, graph.memory.run_id, resumed.model, graph.client.model)
        err.print(
            f"chat {graph.memory.run_id[:12]} saved; continue it with: solvegraph chat --resume "
            f"{graph.memory.run_id[:12]}" + (f" --db {shlex.quote(opts.db)}" if opts.db else ""),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


__all__ = ["chat"]

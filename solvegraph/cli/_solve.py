"""``solvegraph solve``: one problem, its answer on stdout, and an exit code that says how it was checked.

Exit codes: 0 answered and verified by a tool: cross-verified (a tool's sound check, and an independent
route agreed: exact rationals, a second solver, cvc5) or tool-verified (a tool's sound check: the Lean
judge, the optimization re-check); both are 0 so scripts written before the cross-verified tier keep
working, and the tier is printed on stderr and in --json's ``trust``. 3 answered and model-accepted (only
the verifier model said so), 4 answered but unchecked (mechanical checks only, or no clear verdict), 1 not
solved within budget, 2 usage, configuration or connection error. Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import fields, replace
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

import typer

from .._vocabulary import last_model, verified
from ..errors import SolvegraphError
from . import _collector as collector
from ._console import EventPrinter, console, safe
from ._memory import record_switch, switched_model
from ._options import SHARED_OPTIONS, SolvingOptions, SwitchModel, given, solving_options
from ._settings import open_store, settings_from

if TYPE_CHECKING:
    from ..agents import SolveRunner
    from ..config import Settings
    from ..plugins import ToolSession

err = console(stderr=True)
out = console()


def runner_for(settings: Settings, run_kind: str = "solve") -> SolveRunner:
    """The graph's runner for a command; what the sandbox does not isolate is said on stderr."""
    from ..agents import assemble

    runner = assemble(settings, run_kind=run_kind, warn=lambda text: err.print(text, markup=False, highlight=False))
    collector.started()  # the start's imports are done (see _collector)
    return runner


class Resumed(NamedTuple):
    settings: Settings
    run_id: str
    trajectories: list[str]  # the run's, in the order they started
    model: str | None  # the model it ran on


def resumed_settings(ctx: typer.Context, opts: SolvingOptions, switch_model: bool, ident: str, kind: str) -> Resumed:
    """The settings a solve or chat run goes on with: those it was stored with (endpoint, model, budgets,
    sandbox), each overridden by a flag given now; a different model only with --switch-model."""
    from ..config import RUN_SETTINGS

    shared = {f.name for f in fields(SolvingOptions)}

    store = open_store(opts.db, opts.config)
    try:
        run_id, matches = store.resolve(ident)
        found = store.runs(1, run_id=run_id)[0]["kind"]
        if kind == "chat" and found != "chat":
            raise SolvegraphError(f"run {run_id[:12]} is a {found} run, not a chat: chat --resume continues a chat")
        if kind == "solve" and len(matches) != 1:
            raise SolvegraphError(f"{ident!r} names a run of {len(matches)} solves: give one trajectory id")
        recorded = store.run_config(run_id)
        if not recorded:
            err.print(
                f"run {run_id[:12]} was stored without its settings (an older solvegraph): going on with today's",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        # A flag given now wins over its recorded setting (a moved endpoint: --base-url).
        kept = {k: recorded[k] for k in RUN_SETTINGS if k in recorded and not (k in shared and given(ctx, k))}
        if recorded.get("roles"):  # its roles' models too (a --verifier-* flag given now is over them)
            kept["roles"] = recorded["roles"]
        # Older runs recorded no settings, but their trajectories always name their model.
        model = recorded.get("model") or (last_model(store.load(matches[-1]).model) if matches else None) or None
        opts = replace(opts, model=switched_model(run_id, model, opts.model, switch_model))
    finally:
        store.close()
    return Resumed(settings_from(opts, kept), run_id, matches, model)


@solving_options()
def solve(
    ctx: typer.Context,
    problem: Annotated[str | None, typer.Argument(help="The problem text; '-' reads it from stdin.")] = None,
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume",
            metavar="ID",
            help="Continue an interrupted or crashed solve from its last checkpoint (its id, or a unique prefix, "
            "as printed when it started or by 'runs list').",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole trajectory as one JSON object.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Do not show the agents' steps.")] = False,
    opts: SolvingOptions = SHARED_OPTIONS,
    switch_model: SwitchModel = False,
) -> None:
    """Solve one problem and print the answer.

    Exit 0 cross-verified or tool-verified, 3 model-accepted, 4 unchecked, 1 not solved, 2 error.
    """
    if resume is not None and problem is not None:
        raise SolvegraphError("give a problem or --resume ID, not both")
    if resume is None:
        if problem is None:
            raise SolvegraphError("missing the problem text (or --resume ID); see: solvegraph solve --help")
        if problem == "-":
            problem = sys.stdin.read()
        if not problem.strip():
            raise SolvegraphError("the problem is empty; pass the problem text")
    if switch_model and resume is None:
        raise SolvegraphError("--switch-model goes with --resume ID")
    if resume is not None and opts.no_memory:
        raise SolvegraphError("--resume reads the memory store; drop --no-memory")
    resumed = None
    if resume is not None:
        resumed = resumed_settings(ctx, opts, switch_model, resume, "solve")
        settings = resumed.settings
    else:
        settings = settings_from(opts)
    graph = runner_for(settings)
    printer = None if quiet or as_json else EventPrinter(err)
    from ..agents import SolveRequest
    from ..plugins import ToolSession
    from ..types import Trajectory

    if resumed is not None:
        full = resumed.trajectories[0]
        if not quiet:
            err.print(f"resuming {full} from its last checkpoint", markup=False, highlight=False)
        with ToolSession(options=graph.session_options) as session:
            request = SolveRequest(resume=full, session=session)
            trajectory = _interruptible(lambda: graph.solve(request, on_event=printer), full, session)
        if graph.memory is not None:  # the new model answered the rest: the switch is recorded
            record_switch(graph.memory.store, resumed.run_id, resumed.model, graph.client.model)
    else:
        trajectory = Trajectory(problem=(problem or "").strip(), model=graph.client.model)
        if not quiet and graph.checkpoints:
            err.print(f"run {trajectory.id} (if stopped: solvegraph solve --resume {trajectory.id[:12]})", markup=False)
        with ToolSession(options=graph.session_options) as session:
            request = SolveRequest(problem=trajectory.problem, session=session, trajectory=trajectory)
            trajectory = _interruptible(lambda: graph.solve(request, on_event=printer), trajectory.id, session)
    if as_json:
        out.print_json(trajectory.to_json()) if sys.stdout.isatty() else print(trajectory.to_json())
    elif trajectory.solved:
        print(safe(trajectory.answer) if trajectory.answer is not None else "")
        if not quiet:
            err.print(TRUST_LINES.get(trajectory.trust, trajectory.trust), markup=False, highlight=False)
    elif not quiet:  # stdout holds an answer only when there is one: a script never takes an error for one
        last = f"; its last attempt, not accepted: {safe(trajectory.answer)}" if trajectory.answer else ""
        err.print(f"not solved within budget (exit 1){last}", markup=False, highlight=False)
    raise typer.Exit(exit_code(trajectory.solved, trajectory.trust))


@contextlib.contextmanager
def ctrl_c_stops_the_cell(session: ToolSession) -> Iterator[None]:
    """While this runs, Ctrl-C interrupts the running cell at once, then raises KeyboardInterrupt as usual.

    LangGraph runs a node in a worker thread and, on KeyboardInterrupt, waits for it to end: without
    this, Ctrl-C took effect only when the cell itself finished or timed out (30 s by default).
    """

    def stop(signum: int, frame: Any) -> None:
        session.interrupt()  # every plugin's solvegraph_interrupt: the python plugin stops the running cell
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread (a library caller may run the CLI elsewhere)
        return
    previous = signal.signal(signal.SIGINT, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _interruptible(run: Any, trajectory_id: str, session: ToolSession) -> Any:
    """Run a solve; on Ctrl-C stop the running cell, say how to continue, and exit 130."""
    try:
        with ctrl_c_stops_the_cell(session):
            return run()
    except KeyboardInterrupt:
        err.print(
            f"interrupted; continue with: solvegraph solve --resume {trajectory_id[:12]}", markup=False, highlight=False
        )
        raise typer.Exit(130) from None


TRUST_LINES = {
    "cross-verified": "cross-verified: a tool checked this answer, and an independent route agreed",
    "tool-verified": "tool-verified: a tool checked this answer",
    "model-accepted": "model-accepted: only the verifier model checked this answer (exit 3)",
    "unchecked": "unchecked: no tool and no clear model verdict checked this answer (exit 4)",
}


def exit_code(solved: bool, trust: str) -> int:
    """0 verified by a tool (cross- or tool-verified), 3 model-accepted, 4 unchecked, 1 not solved: a script
    can tell them apart. The two verified tiers share 0 (scripts that test for 0 keep working)."""
    if not solved:
        return 1
    return 0 if verified(trust) else {"model-accepted": 3}.get(trust, 4)


__all__ = ["TRUST_LINES", "Resumed", "ctrl_c_stops_the_cell", "exit_code", "resumed_settings", "runner_for", "solve"]

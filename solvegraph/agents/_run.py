"""Running the graph on one problem: the runner callers hold, and its one path from request to record.

The core is asynchronous: :meth:`SolveRunner.astream` takes a :class:`SolveRequest` (a problem, or a
trajectory to resume) and drives the compiled graph with LangGraph's ``astream``, its nodes awaiting the
model and handing blocking tool work to a thread pool. ``asolve`` consumes it; the synchronous
``stream`` and ``solve`` run it through the sync-over-async bridge (:func:`solvegraph._bridge.iterate`).
Its collaborators: the memory's :class:`Recall` (before and after a solve) and, for a resume, the
replay of the kernel's cells (:mod:`._replay`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import inspect
import json
import threading
import time
from collections.abc import AsyncGenerator, Callable, Iterator, Mapping
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from .. import tracing
from .._bridge import iterate
from ..errors import PromptRefusedError, SolvegraphError
from ..llm import ChatModel
from ..plugins import Blocking, PluginManager, ToolSession, in_thread
from ..types import Certificate, Event, Step, Trajectory, content_hash
from ._compiled import compiled_already, compiled_graph
from ._context import Budget, Opening, SolveContext
from ._recall import Recall
from ._replay import replay_cells
from ._request import Approver, SolveRequest, Streamed

if TYPE_CHECKING:
    from ..memory import Memory
    from ..memory.models import MadeTool


class SolveRunner:
    """Solves problems with the planner/solver/verifier/refiner graph and the loaded tools.

    It owns the configuration (model, tools, budget, memory, checkpointer); the graph itself is
    compiled once per checkpointer and shared. :meth:`astream` is the primary interface: it yields
    :class:`Event`\\ s, every recorded :class:`Step`, and finally the :class:`Trajectory`. :meth:`asolve`
    consumes it for callers who only want the result; :meth:`stream` and :meth:`solve` are the same for
    callers without an event loop. Each takes a :class:`SolveRequest`, or a problem's text with the
    request's fields as keywords (``runner.solve("...", context=..., session=...)``).

    Nothing here loads LangGraph before a new solve's first model request is sent: the graph is loaded
    and compiled off the event loop while the planner's request is in flight (:class:`Opening`), and
    checkpoints given as ``open_checkpoints`` (a function that opens them) are opened there too.
    """

    def __init__(
        self,
        client: ChatModel,
        plugins: PluginManager | None = None,
        budget: Budget | None = None,
        session_options: dict[str, object] | None = None,
        memory: Memory | None = None,
        checkpointer: Any = None,
        role_clients: Mapping[str, ChatModel] | None = None,
        *,
        open_checkpoints: Callable[[], Any] | None = None,
        warm: bool = False,
    ) -> None:
        self.client = client
        self.role_clients = dict(role_clients or {})  # planner/verifier/refiner on their own models
        self.plugins = plugins if plugins is not None else PluginManager()
        self.budget = budget or Budget()
        self.session_options = dict(session_options or {})
        self.memory = memory
        self._checkpointer = checkpointer
        self._open_checkpoints = open_checkpoints if checkpointer is None else None
        self._checkpoints_lock = threading.Lock()
        self._warm_lock = threading.Lock()
        self._warmed = False
        self._warm_on_solve = warm  # warm the tools as the first solve's request is out (see warm_tools)

    @property
    def checkpoints(self) -> bool:
        """Whether solves keep checkpoints (resumable), without opening them."""
        return self._checkpointer is not None or self._open_checkpoints is not None

    @property
    def checkpointer(self) -> Any:
        """The LangGraph saver (None: no checkpoints), opened the first time it is asked for."""
        if self._open_checkpoints is not None:
            with self._checkpoints_lock:
                if self._open_checkpoints is not None:
                    self._checkpointer, self._open_checkpoints = self._open_checkpoints(), None
        return self._checkpointer

    @checkpointer.setter
    def checkpointer(self, saver: Any) -> None:
        with self._checkpoints_lock:
            self._checkpointer, self._open_checkpoints = saver, None

    def opened_checkpointer(self) -> Any:
        """The saver if it was opened (or given), else None: what there is to close."""
        return self._checkpointer

    def warm_tools(self) -> None:
        """Start the tools' warm-up on a daemon thread, once: the python tool boots its kernel template
        (1-3 s, longer under gVisor) while the model plans, not at the first cell; a solve that never runs
        code does not wait for it.

        A solve starts it once its first model request is out (its imports would otherwise contend for the
        GIL with the process's start); a caller that first waits for its user (``chat``) starts it at once.
        """
        with self._warm_lock:
            if self._warmed:
                return
            self._warmed = True
        if "python" not in self.plugins.tools():  # the tools offered (e.g. restricted by the API's tools=[...])
            return
        warm = threading.Thread(target=self.plugins.warm, args=(self.session_options, 1), daemon=True, name="sg-warm")
        warm.start()

    @property
    def recall(self) -> Recall | None:
        """The memory's part in each solve (None without a memory)."""
        return Recall(self.memory, self.plugins) if self.memory is not None else None

    def config_hash(self) -> str:
        """Same problem + same configuration = the exact cache may answer without the model."""
        b = self.budget
        config = {
            # The model's identity, not its URL: the embedded server's port changes every run.
            "model": self.client.identity,
            **{f"{r}_model": c.identity for r, c in sorted(self.role_clients.items()) if hasattr(c, "identity")},
            "rounds": b.max_rounds,
            "tool_calls": b.max_tool_calls,
            "turns": b.max_solver_turns,
            "verify": b.verify_with_model,
            "tools": sorted(self.plugins.tools()),
            "prompts": _prompts_digest(),
        }
        return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()

    # -- entry points ------------------------------------------------------------------------
    def solve(
        self, request: SolveRequest | str, *, on_event: Callable[[Event], None] | None = None, **fields: Any
    ) -> Trajectory:
        """Run the graph to the end and return the trajectory; ``on_event`` sees each event as it happens."""
        return _drain(self.stream(request, **fields), on_event)

    async def asolve(
        self, request: SolveRequest | str, *, on_event: Callable[[Event], None] | None = None, **fields: Any
    ) -> Trajectory:
        """:meth:`solve` on the running event loop."""
        async with contextlib.aclosing(self.astream(request, **fields)) as items:  # closed in this task
            async for item in items:
                if isinstance(item, Event) and on_event is not None:
                    on_event(item)
                elif isinstance(item, Trajectory):
                    return item
        raise SolvegraphError("the solve ended without a trajectory")  # not reached: astream always yields one

    def stream(self, request: SolveRequest | str, **fields: Any) -> Iterator[Streamed]:
        """:meth:`astream` for callers without an event loop: the same items, from a private loop."""
        return iterate(self.astream(request, **fields), (self.client, *self.role_clients.values()))

    async def astream(self, request: SolveRequest | str, **fields: Any) -> AsyncGenerator[Streamed, None]:
        """Solve the request's problem (or go on with the trajectory it resumes), yielding events and steps
        as they happen and the trajectory last. See :class:`SolveRequest` for what a caller may ask."""
        request = SolveRequest.of(request, **fields)
        blocking = request.blocking or in_thread
        if request.resume is not None:
            trajectory, body = await self._resumed(request.resume, blocking)
            span: Any = contextlib.nullcontext()
        else:
            problem = (request.problem or "").strip()
            if not problem:
                raise SolvegraphError("the problem is empty; pass the problem text")
            trajectory = request.trajectory or Trajectory(problem=problem, model=self.client.model)
            body = functools.partial(self._fresh, problem, request.context, request.dataset_id, request.gold)
            span = tracing.solve_span(problem, self.client.model)
        own_session = request.session is None
        session = request.session or ToolSession(options=self.session_options)
        made_tools: list[MadeTool] = []
        with span:
            run = self._guarded(
                body(trajectory, session, made_tools, request.approver, blocking),
                trajectory,
                made_tools,
                session if own_session else None,
            )
            async with contextlib.aclosing(run) as items:
                async for item in items:
                    yield item

    # Continuing an interrupted solve: the same entry points, with a request that names the trajectory.
    def resume(
        self, trajectory_id: str, *, on_event: Callable[[Event], None] | None = None, **fields: Any
    ) -> Trajectory:
        """Continue a solve that was interrupted or killed, from its last checkpoint."""
        return self.solve(SolveRequest(resume=trajectory_id), on_event=on_event, **fields)

    def stream_resume(self, trajectory_id: str, **fields: Any) -> Iterator[Streamed]:
        """:meth:`astream_resume` for callers without an event loop."""
        return self.stream(SolveRequest(resume=trajectory_id), **fields)

    def astream_resume(self, trajectory_id: str, **fields: Any) -> AsyncGenerator[Streamed, None]:
        """Continue from the last checkpoint of ``trajectory_id``; see :meth:`astream`.

        The kernel's memory died with the process and cannot be restored. The python cells the
        checkpoint recorded as run (successfully) are replayed, in order, into a fresh kernel, so the
        variables and functions later cells use exist again (:func:`replay_cells`); the replay is recorded
        as a step.
        """
        return self.astream(SolveRequest(resume=trajectory_id), **fields)

    # -- the one path: a body of work, and how every solve fails and closes --------------------
    async def _guarded(
        self,
        body: AsyncGenerator[Streamed, None],
        trajectory: Trajectory,
        made_tools: list[MadeTool],
        session: ToolSession | None,
    ) -> AsyncGenerator[Streamed, None]:
        """Run ``body``; however it ends, the record says how and the solve's own session is closed.

        A refused prompt ends the run ``refused`` with a step saying why; Ctrl-C, a cancelled task or a
        caller that stopped reading leaves it ``interrupted`` (resumable); anything else ``error``. When
        the body has not yielded the trajectory itself (an exact-cache answer does), what the memory
        learned is reported, then the trajectory.
        """
        finished = False
        try:
            async with contextlib.aclosing(body) as items:
                async for item in items:
                    finished = finished or isinstance(item, Trajectory)
                    yield item
        except PromptRefusedError as exc:
            for step in await self._refused(trajectory, exc):
                yield step
            raise
        except BaseException as exc:
            trajectory.status = "interrupted" if isinstance(exc, _STOPPED) else "error"
            trajectory.finished_at = time.time()
            raise
        finally:
            outcome = self._close(trajectory, made_tools, session)
        if finished:
            return
        if any(outcome.values()):
            yield Event("memory", "memory", 0, outcome)
        yield trajectory

    async def _fresh(
        self,
        problem: str,
        context: str,
        dataset_id: str | None,
        gold: str | None,
        trajectory: Trajectory,
        session: ToolSession,
        made_tools: list[MadeTool],
        approver: Approver | None,
        blocking: Blocking,
    ) -> AsyncGenerator[Streamed, None]:
        """A new solve: the memory's recall first (which may answer it), then the graph from the start."""
        recall = self.recall
        if recall is not None:
            recalled = await recall.before(
                problem, trajectory, context=context, config_hash=self.config_hash(),
                tools=sorted(self.plugins.tools()), dataset_id=dataset_id, gold=gold, session=session,
                blocking=blocking,
            )  # fmt: skip
            if recalled.hit is not None:
                yield recalled.hit
                yield trajectory
                return
            context = recalled.context
            made_tools.extend(recalled.made_tools)
            if recalled.step is not None:
                for step in self._recorded(trajectory, [recalled.step]):
                    yield step
        graph_input: dict[str, Any] = {
            "problem": problem,
            "context": context,
            "round": 1,
            "tool_calls": 0,
            "steps": [s.to_dict() for s in trajectory.steps],
        }
        async with contextlib.aclosing(self._run_graph(graph_input, session, trajectory, approver, blocking)) as run:
            async for item in run:
                yield item

    async def _resumed(self, trajectory_id: str, blocking: Blocking) -> tuple[Trajectory, Any]:
        """The trajectory a resume goes on with, from its last checkpoint, and the body that continues it."""
        if self.checkpointer is None:
            raise SolvegraphError("resuming needs checkpoints: run with the memory store on (not --no-memory)")
        graph = compiled_graph(self.checkpointer)
        config = self._config(trajectory_id)
        snapshot = await graph.aget_state(config)
        if not snapshot.values:
            raise SolvegraphError(f"no checkpoint for {trajectory_id}: it finished, or was not run with checkpoints")
        values = snapshot.values
        steps = [Step.from_dict(d) for d in values.get("steps", [])]
        trajectory = Trajectory(problem=values["problem"], id=trajectory_id, model=self.client.model, steps=steps)
        recall = self.recall
        if recall is not None:
            recall.resumed(trajectory, steps, self.client.model)

        async def body(
            trajectory: Trajectory,
            session: ToolSession,
            made_tools: list[MadeTool],
            approver: Approver | None,
            blocking: Blocking,
        ) -> AsyncGenerator[Streamed, None]:
            replay = await blocking(replay_cells, self.plugins, steps, session)
            if replay is not None:
                yield Event("resume", "runner", values.get("round", 1), {"note": replay.reply})
                await graph.aupdate_state(config, {"steps": [replay.to_dict()]})
                for step in self._recorded(trajectory, [replay]):
                    yield step
            async with contextlib.aclosing(self._run_graph(None, session, trajectory, approver, blocking)) as run:
                async for item in run:
                    yield item

        return trajectory, body

    # -- internals -------------------------------------------------------------------------
    def _config(self, thread_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": thread_id}, "recursion_limit": 8 * self.budget.max_rounds * 4 + 20}

    async def _run_graph(
        self,
        graph_input: dict[str, Any] | None,
        session: ToolSession,
        trajectory: Trajectory,
        approver: Approver | None,
        blocking: Blocking,
    ) -> AsyncGenerator[Streamed, None]:
        """Stream the graph: custom events and node updates; recorded steps go to the store as they come.

        A new solve in a process whose graph is not compiled yet sends the planner's request first, and
        loads the graph (LangGraph, the checkpoints) off the event loop while the request is in flight.
        """
        context = SolveContext(
            client=self.client,
            tools=self.plugins.tools(),
            session=session,
            budget=self.budget,
            plugins=self.plugins,
            approve=approver is not None,
            blocking=blocking,
            clients=self.role_clients,
        )
        graph = compiled_already(self._checkpointer) if self._open_checkpoints is None and approver is None else None
        if graph is None and graph_input is not None and not tracing.enabled():
            # Not when traced: the request's span would not be the planner node's child.
            context.opening = Opening(context, graph_input["problem"], graph_input["context"])
            # One turn of the loop for the request before the graph's thread starts: it imports the client's
            # transport and opens its connection now, not while contending with LangGraph's import for the GIL.
            await asyncio.sleep(0)
        if self._warm_on_solve:
            self.warm_tools()
        try:
            if graph is None:
                checkpointer, graph = await blocking(self._graph, approver is not None)
            else:
                checkpointer = self._checkpointer
            run = self._streamed(graph, checkpointer, graph_input, context, trajectory, approver)
            async with contextlib.aclosing(run) as items:
                async for item in items:
                    yield item
        finally:
            if context.opening is not None:
                context.opening.discard()

    def _graph(self, approving: bool) -> tuple[Any, Any]:
        """The checkpointer and the graph compiled with it (the first time: LangGraph loaded)."""
        checkpointer = self.checkpointer
        if approving and checkpointer is None:
            checkpointer = _approval_saver()  # interrupts need somewhere to keep the paused state
        return checkpointer, compiled_graph(checkpointer)

    async def _streamed(
        self,
        graph: Any,
        checkpointer: Any,
        graph_input: dict[str, Any] | None,
        context: SolveContext,
        trajectory: Trajectory,
        approver: Approver | None,
    ) -> AsyncGenerator[Streamed, None]:
        config = self._config(trajectory.id)
        # With checkpoints, each is written before the next node starts: a kill loses at most the node running.
        durable: dict[str, Any] = {"durability": "sync"} if checkpointer is not None else {}
        payload: Any = graph_input
        final: dict[str, Any] = {}
        certificates: list[dict[str, Any]] = []
        while True:
            asked: list[dict[str, Any]] | None = None
            chunks = graph.astream(payload, config, context=context, stream_mode=["custom", "updates"], **durable)
            async for mode, chunk in chunks:
                if mode == "custom":
                    if isinstance(chunk, Event):
                        yield chunk
                    continue
                for node, update in chunk.items():
                    if node == "__interrupt__":
                        asked = list(update[0].value.get("calls", [])) if update else []
                        continue
                    if node not in NODES or not isinstance(update, dict):
                        continue  # a task's result (a model reply): not a step of its own
                    for step in self._recorded(trajectory, [Step.from_dict(d) for d in update.get("steps", [])]):
                        yield step
                    if node == "verifier":
                        certificates = list(update.get("certificates") or [])
                    if node == "finish":
                        final = update
            if asked is None:
                break
            if approver is None:  # paused by a checkpoint of an approving run, resumed without one
                raise SolvegraphError("this run waits for tool-call approval: resume it with --approve")
            from langgraph.types import Command

            decided = approver(asked)
            payload = Command(resume=await decided if inspect.isawaitable(decided) else decided)
        trajectory.answer = final.get("answer")
        trajectory.solved = bool(final.get("solved"))
        trajectory.trust = str(final.get("trust") or "")
        trajectory.reusable = bool(final.get("reusable"))
        trajectory.status = "solved" if trajectory.solved else "unsolved"
        trajectory.stop_reason = str(final.get("stop_reason") or "")
        trajectory.finished_at = time.time()
        if checkpointer is not None and not certificates and trajectory.solved:
            # A resume that began after the verifier ran: its certificates are in the checkpointed state.
            snapshot = await graph.aget_state(config)
            certificates = list((snapshot.values or {}).get("certificates") or [])
        trajectory.certificates = _issued(trajectory, certificates)
        if checkpointer is not None:
            await checkpointer.adelete_thread(trajectory.id)  # finished: the store keeps the record

    async def _refused(self, trajectory: Trajectory, exc: PromptRefusedError) -> list[Step]:
        """The endpoint refused the prompt: the run ends ``refused``, with a step saying why, and is not resumable.

        Not ``unsolved``: nothing was tried past the refusal, so no statistic or memory may read it as a failed
        attempt, and resuming would only send the same prompt again.
        """
        trajectory.status = "refused"
        trajectory.stop_reason = "refused"
        trajectory.finished_at = time.time()
        recorded = list(self._recorded(trajectory, [Step(agent="runner", round=0, reply=str(exc))]))
        if self.checkpointer is not None:
            await self.checkpointer.adelete_thread(trajectory.id)
        return recorded

    def _recorded(self, trajectory: Trajectory, steps: list[Step]) -> Iterator[Step]:
        for step in steps:
            trajectory.steps.append(step)
            if self.memory is not None:
                self.memory.store.add_step(trajectory.id, len(trajectory.steps) - 1, step)
            yield step

    def _close(
        self, trajectory: Trajectory, made_tools: list[MadeTool], session: ToolSession | None
    ) -> dict[str, list[str]]:
        """Write how the solve ended (what memory learned from it is returned); close the solve's own session."""
        try:
            recall = self.recall
            return recall.after(trajectory, made_tools) if recall is not None else {}
        finally:
            if session is not None:
                session.close()


NODES = frozenset({"planner", "solver", "verifier", "refiner", "finish"})
# Ctrl-C, a cancelled task, or a caller that stopped reading: the run was stopped, it did not fail.
_STOPPED = (KeyboardInterrupt, asyncio.CancelledError, GeneratorExit)


def _issued(trajectory: Trajectory, certificates: list[dict[str, Any]]) -> list[Certificate]:
    """The accepting verdict's certificates, now that they back an answer: which one, of which problem and
    trajectory (``store.finish`` saves them with it). None when the run ended without that answer."""
    if not trajectory.solved or trajectory.answer is None:
        return []
    issued = []
    for data in certificates:
        certificate = Certificate.from_dict(data)
        certificate.answer = trajectory.answer
        certificate.problem_id = content_hash(trajectory.problem)
        certificate.trajectory_id = trajectory.id
        issued.append(certificate)
    return issued


def _drain(stream: Iterator[Streamed], on_event: Callable[[Event], None] | None) -> Trajectory:
    for item in stream:
        if isinstance(item, Event) and on_event is not None:
            on_event(item)
        elif isinstance(item, Trajectory):
            return item
    raise SolvegraphError("the solve ended without a trajectory")  # not reached: stream() always yields one


@functools.cache
def _approval_saver() -> Any:
    """An in-process saver for approval pauses when no database checkpointer is configured."""
    from langgraph.checkpoint.memory import InMemorySaver

    return InMemorySaver()


@functools.cache
def _prompts_digest() -> str:
    """The prompt files do not change while the process runs: hash them once, not on every solve."""
    digest = hashlib.sha256()
    for f in sorted((files("solvegraph.agents") / "prompts").iterdir(), key=lambda p: p.name):
        digest.update(f.read_bytes())
    return digest.hexdigest()


__all__ = ["Approver", "SolveRequest", "SolveRunner", "Streamed", "iterate"]

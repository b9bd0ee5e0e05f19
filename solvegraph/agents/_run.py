"""Running the graph on one problem: the public entry point for callers.

The core is asynchronous: :meth:`SolveRunner.astream` drives the compiled graph with LangGraph's
``astream``, its nodes awaiting the model and handing blocking tool work to a thread pool. The
synchronous :meth:`SolveRunner.stream` and :meth:`SolveRunner.solve` are thin wrappers that run it on
a private event loop (:func:`iterate`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import inspect
import json
import queue
import threading
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator, Mapping
from importlib.resources import files
from typing import TYPE_CHECKING, Any, TypeVar, cast

from langgraph.types import Command

from .. import tracing
from ..errors import PromptRefusedError, SolvegraphError
from ..llm import ChatModel
from ..plugins import Blocking, PluginManager, ToolSession, in_thread
from ..types import Event, Step, Trajectory, credit
from .graph import compiled_graph
from .state import Budget, SolveContext

if TYPE_CHECKING:
    from ..memory import Memory
    from ..memory.models import MadeTool


# What a solve streams to its caller: the events nodes report, each step as it is recorded, a request for
# approval (chat --approve), and last the finished trajectory.
Streamed = Event | Step | Trajectory
# Gets the calls of one model turn, returns a decision for each; may be a coroutine function.
Approver = Callable[[list[dict[str, Any]]], list[dict[str, Any]] | Awaitable[list[dict[str, Any]]]]
T = TypeVar("T")


class SolveRunner:
    """Solves problems with the planner/solver/verifier/refiner graph and the loaded tools.

    It owns the configuration (model, tools, budget, memory, checkpointer); the graph itself is
    compiled once per checkpointer and shared. :meth:`astream` is the primary interface: it yields
    :class:`Event`\\ s, every recorded :class:`Step`, and finally the :class:`Trajectory`. :meth:`asolve`
    consumes it for callers who only want the result; :meth:`stream` and :meth:`solve` are the same for
    callers without an event loop.
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
    ) -> None:
        self.client = client
        self.role_clients = dict(role_clients or {})  # planner/verifier/refiner on their own models
        self.plugins = plugins if plugins is not None else PluginManager()
        self.budget = budget or Budget()
        self.session_options = dict(session_options or {})
        self.memory = memory
        self.checkpointer = checkpointer

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

    def solve(
        self,
        problem: str,
        *,
        context: str = "",
        session: ToolSession | None = None,
        on_event: Callable[[Event], None] | None = None,
        approver: Approver | None = None,
        dataset_id: str | None = None,
        gold: str | None = None,
        trajectory: Trajectory | None = None,
    ) -> Trajectory:
        """Run the graph to the end and return the trajectory; ``on_event`` sees each event as it happens."""
        stream = self.stream(
            problem,
            context=context,
            session=session,
            approver=approver,
            dataset_id=dataset_id,
            gold=gold,
            trajectory=trajectory,
        )
        return _drain(stream, on_event)

    async def asolve(
        self,
        problem: str,
        *,
        context: str = "",
        session: ToolSession | None = None,
        on_event: Callable[[Event], None] | None = None,
        approver: Approver | None = None,
        dataset_id: str | None = None,
        gold: str | None = None,
        trajectory: Trajectory | None = None,
        blocking: Blocking | None = None,
    ) -> Trajectory:
        """:meth:`solve` on the running event loop."""
        stream = self.astream(
            problem,
            context=context,
            session=session,
            approver=approver,
            dataset_id=dataset_id,
            gold=gold,
            trajectory=trajectory,
            blocking=blocking,
        )
        async with contextlib.aclosing(stream) as items:  # closed in this task, where its tracing span was set
            async for item in items:
                if isinstance(item, Event) and on_event is not None:
                    on_event(item)
                elif isinstance(item, Trajectory):
                    return item
        raise SolvegraphError("the solve ended without a trajectory")  # not reached: astream always yields one

    def stream(
        self,
        problem: str,
        *,
        context: str = "",
        session: ToolSession | None = None,
        approver: Approver | None = None,
        dataset_id: str | None = None,
        gold: str | None = None,
        trajectory: Trajectory | None = None,
    ) -> Iterator[Streamed]:
        """:meth:`astream` for callers without an event loop: the same items, from a private loop."""
        return iterate(
            self.astream(
                problem,
                context=context,
                session=session,
                approver=approver,
                dataset_id=dataset_id,
                gold=gold,
                trajectory=trajectory,
            ),
            (self.client, *self.role_clients.values()),
        )

    async def astream(
        self,
        problem: str,
        *,
        context: str = "",
        session: ToolSession | None = None,
        approver: Approver | None = None,
        dataset_id: str | None = None,
        gold: str | None = None,
        trajectory: Trajectory | None = None,
        blocking: Blocking | None = None,
    ) -> AsyncGenerator[Streamed, None]:
        """Solve ``problem``, yielding events and steps as they happen and the trajectory last.

        ``session`` may be passed to keep a kernel across chat turns. ``approver`` makes the solver ask
        before each tool call: it gets the calls of one model turn and returns a decision for each
        (approve, edit with new arguments, or reject with a reason the refiner will see). ``blocking``
        runs blocking tool work off the loop (default: the loop's thread pool); a caller running many
        solves passes a bounded one.
        """
        problem = (problem or "").strip()
        if not problem:
            raise SolvegraphError("the problem is empty; pass the problem text")
        own_session = session is None
        session = session or ToolSession(options=self.session_options)
        trajectory = trajectory or Trajectory(problem=problem, model=self.client.model)
        memory, made_tools = self.memory, cast("list[MadeTool]", [])
        with tracing.solve_span(problem, self.client.model):
            inner = self._stream(problem, context, session, own_session, trajectory, memory, made_tools, approver,
                                 dataset_id, gold, blocking or in_thread)  # fmt: skip
            async with contextlib.aclosing(inner) as items:
                async for item in items:
                    yield item

    async def _stream(
        self,
        problem: str,
        context: str,
        session: ToolSession,
        own_session: bool,
        trajectory: Trajectory,
        memory: Memory | None,
        made_tools: list[MadeTool],
        approver: Approver | None,
        dataset_id: str | None,
        gold: str | None,
        blocking: Blocking,
    ) -> AsyncGenerator[Streamed, None]:
        try:
            if memory is not None:
                config_hash = self.config_hash()
                settings = {"model": self.client.model, "tools": sorted(self.plugins.tools())}
                run_id = memory.ensure_run(
                    self.client.model, settings, run_id=trajectory.id if memory.run_kind == "solve" else None
                )
                prep = memory.prepare(problem, config_hash, dataset_id=dataset_id)
                memory.store.begin(trajectory, run_id, sample_id=dataset_id, gold=gold, config_hash=config_hash)
                if prep.cached is not None:
                    memory.cache_hit(trajectory, prep.cached)
                    memory.store.add_step(trajectory.id, 0, trajectory.steps[0])
                    hit = {"answer": trajectory.answer, "reason": "exact cache", "source": prep.cached[1]}
                    yield Event("answer", "memory", 0, hit)
                    yield trajectory
                    return
                if prep.examples:
                    context = f"{prep.examples}\n\n{context}".strip()
                if prep.tools:
                    made_tools, note, step = await blocking(self._load_made_tools, prep.tools, session)
                    if step is not None:
                        for recorded in self._recorded(trajectory, [step]):
                            yield recorded
                    context = f"{context}\n\n{note}".strip() if note else context
            graph_input: dict[str, Any] = {
                "problem": problem,
                "context": context,
                "round": 1,
                "tool_calls": 0,
                "steps": [s.to_dict() for s in trajectory.steps],
            }
            async with contextlib.aclosing(
                self._run_graph(graph_input, session, trajectory, approver, blocking)
            ) as run:
                async for item in run:
                    yield item
        except PromptRefusedError as exc:
            for step in await self._refused(trajectory, exc):
                yield step
            raise
        except BaseException as exc:
            # Ctrl-C (or a cancelled task) leaves a run that may be resumed (solve) or was cancelled (chat).
            trajectory.status = "interrupted" if isinstance(exc, _STOPPED) else "error"
            trajectory.finished_at = time.time()
            raise
        finally:
            outcome = self._close(trajectory, memory, made_tools, session if own_session else None)
        if any(outcome.values()):
            yield Event("memory", "memory", 0, outcome)
        yield trajectory

    def resume(
        self,
        trajectory_id: str,
        *,
        session: ToolSession | None = None,
        on_event: Callable[[Event], None] | None = None,
        approver: Approver | None = None,
    ) -> Trajectory:
        """Continue a solve that was interrupted or killed, from its last checkpoint."""
        return _drain(self.stream_resume(trajectory_id, session=session, approver=approver), on_event)

    def stream_resume(
        self, trajectory_id: str, *, session: ToolSession | None = None, approver: Approver | None = None
    ) -> Iterator[Streamed]:
        """:meth:`astream_resume` for callers without an event loop."""
        stream = self.astream_resume(trajectory_id, session=session, approver=approver)
        return iterate(stream, (self.client, *self.role_clients.values()))

    async def astream_resume(
        self,
        trajectory_id: str,
        *,
        session: ToolSession | None = None,
        approver: Approver | None = None,
        blocking: Blocking | None = None,
    ) -> AsyncGenerator[Streamed, None]:
        """Continue from the last checkpoint of ``trajectory_id``; see :meth:`astream`.

        The kernel's memory died with the process and cannot be restored. The python cells the
        checkpoint recorded as run (successfully) are replayed, in order, into a fresh kernel, so the
        variables and functions later cells use exist again; a cell with outside effects (time, random
        numbers, files) may give a different value the second time. The replay is recorded as a step.
        """
        if self.checkpointer is None:
            raise SolvegraphError("resuming needs checkpoints: run with the memory store on (not --no-memory)")
        blocking = blocking or in_thread
        graph = compiled_graph(self.checkpointer)
        config = self._config(trajectory_id)
        snapshot = await graph.aget_state(config)
        if not snapshot.values:
            raise SolvegraphError(f"no checkpoint for {trajectory_id}: it finished, or was not run with checkpoints")
        values = snapshot.values
        steps = [Step.from_dict(d) for d in values.get("steps", [])]
        trajectory = Trajectory(problem=values["problem"], id=trajectory_id, model=self.client.model, steps=steps)
        memory = self.memory
        if memory is not None:
            stored = memory.store.load(trajectory_id)
            trajectory.started_at = stored.started_at
            trajectory.model = credit(stored.model, self.client.model)  # resumed with --switch-model: both
            memory.store.reopen(trajectory_id)
            memory.store.keep_steps(trajectory_id, len(steps))
            for seq in range(len(stored.steps), len(steps)):
                memory.store.add_step(trajectory_id, seq, steps[seq])
        own_session = session is None
        session = session or ToolSession(options=self.session_options)
        try:
            replay = await blocking(self._replay_cells, steps, session)
            if replay is not None:
                yield Event("resume", "runner", values.get("round", 1), {"note": replay.reply})
                await graph.aupdate_state(config, {"steps": [replay.to_dict()]})
                for step in self._recorded(trajectory, [replay]):
                    yield step
            async with contextlib.aclosing(self._run_graph(None, session, trajectory, approver, blocking)) as run:
                async for item in run:
                    yield item
        except PromptRefusedError as exc:
            for step in await self._refused(trajectory, exc):
                yield step
            raise
        except BaseException as exc:
            # Ctrl-C (or a cancelled task) leaves a run that may be resumed (solve) or was cancelled (chat).
            trajectory.status = "interrupted" if isinstance(exc, _STOPPED) else "error"
            trajectory.finished_at = time.time()
            raise
        finally:
            self._close(trajectory, memory, [], session if own_session else None)
        yield trajectory

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
        """Stream the graph: custom events and node updates; recorded steps go to the store as they come."""
        checkpointer = self.checkpointer
        if approver is not None and checkpointer is None:
            checkpointer = _approval_saver()  # interrupts need somewhere to keep the paused state
        graph = compiled_graph(checkpointer)
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
        config = self._config(trajectory.id)
        # With checkpoints, each is written before the next node starts: a kill loses at most the node running.
        durable: dict[str, Any] = {"durability": "sync"} if checkpointer is not None else {}
        payload: Any = graph_input
        final: dict[str, Any] = {}
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
                    if node == "finish":
                        final = update
            if asked is None:
                break
            if approver is None:  # paused by a checkpoint of an approving run, resumed without one
                raise SolvegraphError("this run waits for tool-call approval: resume it with --approve")
            decided = approver(asked)
            payload = Command(resume=await decided if inspect.isawaitable(decided) else decided)
        trajectory.answer = final.get("answer")
        trajectory.solved = bool(final.get("solved"))
        trajectory.trust = str(final.get("trust") or "")
        trajectory.reusable = bool(final.get("reusable"))
        trajectory.status = "solved" if trajectory.solved else "unsolved"
        trajectory.stop_reason = str(final.get("stop_reason") or "")
        trajectory.finished_at = time.time()
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
        self, trajectory: Trajectory, memory: Memory | None, made_tools: list[MadeTool], session: ToolSession | None
    ) -> dict[str, list[str]]:
        """Write how the solve ended; what memory learned from it (examples, made tools) is returned."""
        try:
            if memory is not None and trajectory.status != "running":
                memory.store.finish(trajectory)
                if trajectory.status not in ("error", "refused", "interrupted"):
                    return memory.after(trajectory, made_tools)
            return {}
        finally:
            if session is not None:
                session.close()

    def _replay_cells(self, steps: list[Step], session: ToolSession) -> Step | None:
        python = self.plugins.tools().get("python")
        cells = [
            call["arguments"]["code"]
            for step in steps
            for call, result in zip(step.tool_calls, step.tool_results, strict=False)
            if call.get("name") == "python" and result.get("ok") and isinstance(call.get("arguments"), dict)
        ]
        if python is None or not cells:
            return None
        step = Step(agent="runner", round=0)
        failed = 0
        for i, code in enumerate(cells):
            result = python.run({"code": code}, session)
            failed += not result.ok
            step.tool_calls.append({"id": f"replay_{i}", "name": "python", "arguments": {"code": code}})
            step.tool_results.append({"id": f"replay_{i}", "name": "python", **result.to_dict()})
        step.reply = f"resumed in a fresh kernel: the {len(cells)} python cell(s) that had run were replayed" + (
            f"; {failed} failed the second time" if failed else ""
        )
        return step

    def _load_made_tools(self, tools: list[MadeTool], session: ToolSession) -> tuple[list[MadeTool], str, Step | None]:
        """Define made tools in the kernel through the python tool itself, and say so to the solver."""
        python = self.plugins.tools().get("python")
        if python is None:
            return [], "", None
        step = Step(agent="memory", round=0, reply="loaded made tools into the Python kernel")
        loaded = []
        for t in tools:
            call_id = f"made_{t.id}"
            result = python.run({"code": t.source}, session)
            step.tool_calls.append({"id": call_id, "name": "python", "arguments": {"code": t.source}})
            step.tool_results.append({"id": call_id, "name": "python", **result.to_dict()})
            if result.ok:
                loaded.append(t)
        if not loaded:
            return [], "", step
        lines = [f"- {t.signature}: {t.docstring.splitlines()[0] if t.docstring else 'no docstring'}" for t in loaded]
        note = (
            "Helper functions already defined in the Python kernel (made from earlier verified solutions; "
            "call them instead of rewriting them):\n" + "\n".join(lines)
        )
        return loaded, note, step


NODES = frozenset({"planner", "solver", "verifier", "refiner", "finish"})
# Ctrl-C, a cancelled task, or a caller that stopped reading: the run was stopped, it did not fail.
_STOPPED = (KeyboardInterrupt, asyncio.CancelledError, GeneratorExit)


def iterate(stream: AsyncGenerator[T, None], client: Any = None) -> Iterator[T]:
    """Drive an async generator from synchronous code, item by item.

    It runs on a private event loop in the calling thread; in a thread that already runs a loop (a
    notebook), on a worker thread's loop. The whole generator runs inside one task, so context set
    across its yields (a tracing span) stays consistent. Ctrl-C (or the caller stopping early) cancels
    that task, which cancels the graph; the exception is then raised here. ``client``'s connections
    for that loop are closed at the end (``aclose``).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _on_private_loop(stream, client)
    return _on_worker_thread(stream, client)


async def _pump(
    stream: AsyncGenerator[T, None], put: Callable[[tuple[bool, Any]], None], more: Any, body: list[Any]
) -> None:
    """Run ``stream`` to its end inside one task, handing each item to ``put`` (then awaiting ``more``, if
    given); the end is ``(False, None)``, a failure ``(False, exc)``. Only that inner task (``body[0]``) is
    cancelled when the caller stops, so what the caller does after this returns (closing the model
    client's connections) is never cut short."""

    async def consume() -> None:
        # Closed in this task, even when cancelled: what the solve set in its context (a tracing span) is
        # unwound in the context that set it.
        async with contextlib.aclosing(stream) as items:
            async for item in items:
                put((True, item))
                if more is not None:
                    await more.wait()  # the caller takes one item at a time, as from a plain generator
                    more.clear()

    body.append(asyncio.ensure_future(consume()))
    try:
        await body[0]
        put((False, None))
    except asyncio.CancelledError:
        put((False, None))
    except BaseException as exc:  # handed to the caller, raised there
        put((False, exc))


async def _closing(client: Any) -> None:
    """Close ``client``'s connections on this loop (a tuple: each one's, the roles' clients too)."""
    for one in client if isinstance(client, tuple) else (client,):
        closer = getattr(one, "aclose", None)
        if closer is not None:
            with contextlib.suppress(Exception):
                await closer()


def _on_private_loop(stream: AsyncGenerator[T, None], client: Any) -> Iterator[T]:
    loop = asyncio.new_event_loop()
    items: asyncio.Queue[tuple[bool, Any]] = asyncio.Queue()
    more = asyncio.Event()
    body: list[asyncio.Future[None]] = []
    task = loop.create_task(_pump(stream, items.put_nowait, more, body))
    try:
        while True:
            ok, value = loop.run_until_complete(items.get())
            if not ok:
                if value is not None:
                    raise value
                return
            yield value
            more.set()
    except BaseException:  # Ctrl-C while waiting, or the caller stopped early: cancel the solve
        if body and not body[0].done():
            body[0].cancel()
        raise
    finally:
        with contextlib.suppress(BaseException):
            loop.run_until_complete(task)
        with contextlib.suppress(BaseException):
            loop.run_until_complete(_closing(client))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


def _on_worker_thread(stream: AsyncGenerator[T, None], client: Any) -> Iterator[T]:
    out: queue.Queue[tuple[bool, Any]] = queue.Queue()
    body: list[asyncio.Future[None]] = []
    started = threading.Event()
    loops: list[asyncio.AbstractEventLoop] = []

    async def main() -> None:
        loops.append(asyncio.get_running_loop())
        pumping = asyncio.ensure_future(_pump(stream, out.put, None, body))
        await asyncio.sleep(0)  # the pump has made its inner task
        started.set()
        try:
            await pumping
        finally:
            await _closing(client)

    worker = threading.Thread(target=lambda: asyncio.run(main()), name="sg-solve", daemon=True)
    worker.start()
    started.wait()
    try:
        while True:
            ok, value = out.get()
            if not ok:
                if value is not None:
                    raise value
                return
            yield value
    finally:
        if body and not body[0].done():
            loops[0].call_soon_threadsafe(body[0].cancel)
        worker.join()


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


__all__ = ["Approver", "SolveRunner", "Streamed", "iterate"]

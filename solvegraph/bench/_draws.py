"""The K epochs of a problem drawn in one request, where the endpoint supports ``n``.

``bench --epochs K --strategy direct`` asks the same prompt K times. An OpenAI-compatible endpoint that
supports ``n`` (vLLM, OpenAI) answers K independent choices to one request: the prompt is sent, queued
and prefilled once. The first epoch of a problem to start asks for as many choices as the problem has
epochs left in this run; its siblings take theirs from the pool as they start, so each epoch is still
its own sample, scored and stored apart, and ``--resume`` draws only the epochs not yet done. An
endpoint that ignores ``n`` answers one choice: the others then ask on their own, and the pool stops
asking for more than one.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from ..llm import Reply
from ._epochs import problem_of


class Draws:
    def __init__(self, samples: list[Any]) -> None:
        self.left = Counter(problem_of(s.id) for s in samples)  # epochs of each problem still to draw
        self._pools: dict[str, list[Reply]] = {}
        self._asking: dict[str, asyncio.Future[None]] = {}
        self.supported = True
        self.requests = 0  # the n > 1 requests made

    async def take(self, client: Any, problem: str, messages: list[dict[str, Any]]) -> Reply:
        """One reply for one epoch of ``problem``: from the pool, or by asking for the epochs left."""
        while True:
            pool = self._pools.get(problem)
            if pool:
                self.left[problem] -= 1
                return pool.pop()
            asking = self._asking.get(problem)
            if asking is None:
                break
            await asyncio.shield(asking)  # a sibling is asking: its choices land in the pool
            if not self._pools.get(problem):
                break  # it got none to spare (no n support, or its request failed): ask alone
        n = self.left[problem] if self.supported else 1
        if n <= 1:
            self.left[problem] -= 1
            reply: Reply = await client.achat(messages)
            return reply
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._asking[problem] = done
        try:
            replies = await client.achat_n(messages, n)
            self.requests += 1
        finally:
            del self._asking[problem]
            done.set_result(None)
        if len(replies) < 2:
            self.supported = False  # the endpoint ignores n
        self.left[problem] -= 1
        self._pools[problem] = replies[1:]
        return replies[0]

"""What MCP adds to a tool call: a trivial `python` call over stdio MCP against the same call in-process.

    python benchmarks/mcp_overhead.py [--calls 200]

Both run in this one process's run, on a warm kernel each: in-process through ``Tool.run`` with a
``ToolSession`` (what the agents do), and through the official SDK's client to ``solvegraph mcp serve``
over stdio (what an MCP client does). The difference of the medians is MCP's cost per call (target:
at most 5 ms added). Also reported: the time to start the server and list its tools, and, as the
consuming side, the time solvegraph takes to start 3 configured MCP servers (mcp-server-time) and list
their tools, against 1 server in the same run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time

import anyio
from mcp import ClientSession, StdioServerParameters, stdio_client

from solvegraph.config import McpServerConfig
from solvegraph.plugins import PluginManager, ToolSession
from solvegraph.tools.mcp import McpServers

CODE = {"code": "1 + 1"}


def in_process(calls: int) -> list[float]:
    python = PluginManager().tools()["python"]
    times = []
    with ToolSession() as session:
        python.run(CODE, session)  # warm: the kernel starts here
        for _ in range(calls):
            started = time.perf_counter()
            assert python.run(CODE, session).ok
            times.append(time.perf_counter() - started)
    return times


async def over_mcp(calls: int, db: str) -> tuple[list[float], float]:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "solvegraph.cli", "mcp", "serve", "--tools", "python", "--db", db]
    )
    started = time.perf_counter()
    async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
        await client.initialize()
        await client.list_tools()
        listed = time.perf_counter() - started
        await client.call_tool("python", CODE)  # warm
        times = []
        for _ in range(calls):
            t0 = time.perf_counter()
            result = await client.call_tool("python", CODE)
            times.append(time.perf_counter() - t0)
            assert not result.is_error
    return times, listed


def listing(servers: int) -> float:
    """Seconds from nothing running to the tools of ``servers`` mcp-server-time servers listed."""
    configs = tuple(
        McpServerConfig(name=f"time{i}", command=sys.executable, args=("-m", "mcp_server_time")) for i in range(servers)
    )
    started = time.perf_counter()
    manager = McpServers(configs)
    tools = manager.tools()
    took = time.perf_counter() - started
    manager.close()
    assert len(tools) == 2 * servers, [t.name for t in tools]
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        local = in_process(args.calls)
        remote, listed = anyio.run(over_mcp, args.calls, f"sqlite:///{folder}/m.sqlite")
    one = statistics.median(listing(1) for _ in range(3))
    three = statistics.median(listing(3) for _ in range(3))
    local_ms, remote_ms = statistics.median(local) * 1000, statistics.median(remote) * 1000
    print(
        json.dumps(
            {
                "calls": args.calls,
                "in_process_median_ms": round(local_ms, 2),
                "mcp_stdio_median_ms": round(remote_ms, 2),
                "added_ms": round(remote_ms - local_ms, 2),
                "start_and_list_tools_s": round(listed, 2),
                "consume_list_1_server_s": round(one, 2),
                "consume_list_3_servers_s": round(three, 2),
            }
        )
    )


if __name__ == "__main__":
    main()

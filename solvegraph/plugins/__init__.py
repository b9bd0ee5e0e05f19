"""The plugin system: hook specs, the tool contract and the loader."""

from ._bench import Dataset, DatasetError, Loaded, RowFn, Scorer, load_jsonl
from ._options import ToolOptions, build_options, describe_options
from ._services import CellRun, CodeKernel
from ._tool import Blocking, Tool, ToolResult, ToolSession, in_thread, tool, truncate
from ._verifier import CertificateChecker, Verifier
from .hookspecs import hookimpl, hookspec
from .manager import ENTRY_POINT_GROUP, PluginInfo, PluginManager, tool_problem

__all__ = [
    "ENTRY_POINT_GROUP",
    "Blocking",
    "CellRun",
    "CertificateChecker",
    "CodeKernel",
    "Dataset",
    "DatasetError",
    "Loaded",
    "PluginInfo",
    "PluginManager",
    "RowFn",
    "Scorer",
    "Tool",
    "ToolOptions",
    "ToolResult",
    "ToolSession",
    "Verifier",
    "build_options",
    "describe_options",
    "hookimpl",
    "hookspec",
    "in_thread",
    "load_jsonl",
    "tool",
    "tool_problem",
    "truncate",
]

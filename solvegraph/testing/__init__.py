"""Test fixtures for solvegraph and its plugins; nothing here is a runtime feature.

- The conformance kit for tool plugins: ``from solvegraph.testing import assert_conformant``.
- :class:`ScriptedModel`, an OpenAI-compatible HTTP server on loopback that answers from a script, so
  graph logic is tested through the real model client. It is never offered to users as a model.
"""

from ..plugins.testing import ConformanceReport, assert_conformant, check_tool
from ._scripted import ScriptedModel, agent_of

__all__ = ["ConformanceReport", "ScriptedModel", "agent_of", "assert_conformant", "check_tool"]

"""Conformance kit for tool plugins: ``from solvegraph.testing import assert_conformant``."""

from .plugins.testing import ConformanceReport, assert_conformant, check_tool

__all__ = ["ConformanceReport", "assert_conformant", "check_tool"]

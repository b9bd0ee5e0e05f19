"""The package's version, in a module of its own: a part in a lower layer (the MCP server) reads it without
importing the package's root, which reaches the Python API (``solvegraph._api``) and through it every layer."""

__version__ = "0.1.0"

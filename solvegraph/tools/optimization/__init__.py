"""Optimization tools: ``milp`` (SCIP) and ``cp`` (CP-SAT) over one declarative model.

- ``model``: the pure modelling library (schema, expressions, compile, check, errors); no plugin imports.
- ``milp``, ``cp``: each solver, split by process (host, sandboxed worker, model's kernel).
- ``_results``: the host side both share (options, worker call, code mode, result, re-check);
  ``_readback``: the pure helpers the worker and kernel readers share.
"""

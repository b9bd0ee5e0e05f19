"""The ``milp`` tool, split by the process each part runs in.

- ``host``: in solvegraph's process: the tool, its options, its verifier and hooks (the entry point).
- ``worker``: in the sandboxed solver process the host starts: build, solve and diagnose a model.
- ``kernel``: in the session's python kernel (code mode): read the model's own solver object back.

This package imports none of them, so the worker and the kernel load only what they run.
"""

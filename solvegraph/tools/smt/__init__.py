"""The ``smt`` tool: Z3 in a sandboxed worker.

``host`` runs in solvegraph's process (the tool, its script parser, its hooks: the entry point);
``worker`` runs in the sandboxed Z3 process the host starts.
"""

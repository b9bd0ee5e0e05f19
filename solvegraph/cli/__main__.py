"""``python -m solvegraph.cli``: the same as the ``solvegraph`` command."""

from . import main

main()

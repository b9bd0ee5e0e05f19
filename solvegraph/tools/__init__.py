"""Built-in tool plugins. Each registers through the ``solvegraph`` entry point."""

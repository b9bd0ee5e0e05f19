"""Computer algebra tools for solvegraph: exact results from sympy."""

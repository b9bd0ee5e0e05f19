"""Three exact computer-algebra tools on sympy: simplify, solve, integrate.

Results are exact (rationals, radicals, pi), in sympy's string form, so the
verifier compares them without floating-point doubt. Input is parsed with
sympy's parser (``^`` means power, ``2x`` means ``2*x``).
"""

from __future__ import annotations

from tokenize import TokenError

import sympy as sp
from sympy.parsing.sympy_parser import (
    convert_xor,
    implicit_multiplication_application,
    parse_expr,
    standard_transformations,
)

from solvegraph.plugins import ToolResult, hookimpl, tool

_TRANSFORMS = (*standard_transformations, implicit_multiplication_application, convert_xor)


def _parse(text: str) -> sp.Expr:
    if "=" in text and "==" not in text:
        left, right = text.split("=", 1)
        return sp.Eq(parse_expr(left, transformations=_TRANSFORMS), parse_expr(right, transformations=_TRANSFORMS))
    return parse_expr(text, transformations=_TRANSFORMS)


def _parse_or_fail(text: str, what: str) -> sp.Expr | ToolResult:
    try:
        return _parse(text)
    except (SyntaxError, TypeError, ValueError, sp.SympifyError, TokenError) as exc:
        return ToolResult.failure(f"cannot parse {what} {text!r}: {type(exc).__name__}: {exc}")


@tool(name="cas_simplify", timeout=20.0)
def cas_simplify(expression: str) -> ToolResult:
    """Simplify an expression exactly with sympy, e.g. "sin(x)^2 + cos(x)^2" gives 1.

    Args:
        expression: The expression, in Python/sympy syntax; ^ is accepted for powers.
    """
    expr = _parse_or_fail(expression, "expression")
    if isinstance(expr, ToolResult):
        return expr
    result = sp.simplify(expr)
    return ToolResult.success(sp.sstr(result), latex=sp.latex(result))


@tool(name="cas_solve", timeout=20.0)
def cas_solve(equations: list[str], symbols: list[str] | None = None) -> ToolResult:
    """Solve equations exactly with sympy; "x^2 = 2" gives x = -sqrt(2), sqrt(2).

    Args:
        equations: Equations ("lhs = rhs") or expressions equal to zero.
        symbols: The unknowns; by default every free symbol.
    """
    if not equations:
        return ToolResult.failure("equations is empty")
    parsed = []
    for text in equations:
        expr = _parse_or_fail(text, "equation")
        if isinstance(expr, ToolResult):
            return expr
        parsed.append(expr)
    unknowns = (
        [sp.Symbol(s) for s in symbols] if symbols else sorted(set().union(*(e.free_symbols for e in parsed)), key=str)
    )
    if not unknowns:
        return ToolResult.failure("no unknowns: pass symbols or use a variable in the equations")
    solutions = sp.solve(parsed, unknowns, dict=True)
    if not solutions:
        return ToolResult.success("no solution", solutions=[])
    rows = [{str(k): sp.sstr(v) for k, v in sol.items()} for sol in solutions]
    text = "\n".join(", ".join(f"{k} = {v}" for k, v in row.items()) for row in rows)
    return ToolResult.success(text, solutions=rows)


@tool(name="cas_integrate", timeout=20.0)
def cas_integrate(
    expression: str, variable: str = "x", lower: str | None = None, upper: str | None = None
) -> ToolResult:
    """Integrate exactly with sympy: an antiderivative, or a definite integral when both bounds are given.

    Args:
        expression: The integrand.
        variable: The variable of integration.
        lower: Lower bound (e.g. "0", "-oo"); give both bounds or neither.
        upper: Upper bound (e.g. "pi", "oo").
    """
    if (lower is None) != (upper is None):
        return ToolResult.failure("give both lower and upper bounds, or neither")
    expr = _parse_or_fail(expression, "integrand")
    if isinstance(expr, ToolResult):
        return expr
    var = sp.Symbol(variable)
    if lower is None:
        result = sp.integrate(expr, var)
    else:
        lo, hi = _parse_or_fail(lower, "bound"), _parse_or_fail(str(upper), "bound")
        for bound in (lo, hi):
            if isinstance(bound, ToolResult):
                return bound
        result = sp.integrate(expr, (var, lo, hi))
    if result.has(sp.Integral):
        return ToolResult.failure(f"sympy found no closed form: {sp.sstr(result)}")
    return ToolResult.success(sp.sstr(result), latex=sp.latex(result))


@hookimpl
def solvegraph_tools() -> list:
    return [cas_simplify, cas_solve, cas_integrate]


@hookimpl
def solvegraph_prompt_fragments() -> dict[str, str]:
    return {
        "planner": "For exact symbolic algebra (simplify, solve equations, integrals) use the cas_* tools.",
    }

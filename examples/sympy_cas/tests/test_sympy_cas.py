from solvegraph_sympy_cas.plugin import cas_integrate, cas_simplify, cas_solve

from solvegraph.testing import assert_conformant


def test_conformance() -> None:
    assert_conformant(cas_simplify, {"expression": "sin(x)^2 + cos(x)^2"})
    assert_conformant(cas_solve, {"equations": ["x^2 = 2"]})
    assert_conformant(cas_integrate, {"expression": "x^2", "lower": "0", "upper": "3"})


def test_exact_results() -> None:
    assert cas_simplify.run({"expression": "sin(x)^2 + cos(x)^2"}).output == "1"
    assert cas_solve.run({"equations": ["x^2 = 2"]}).data["solutions"] == [{"x": "-sqrt(2)"}, {"x": "sqrt(2)"}]
    assert cas_integrate.run({"expression": "exp(-x^2)", "lower": "-oo", "upper": "oo"}).output == "sqrt(pi)"
    assert cas_integrate.run({"expression": "1/x"}).output == "log(x)"


def test_errors_are_results() -> None:
    bad = cas_simplify.run({"expression": "x +* ("})
    assert not bad.ok and "cannot parse" in bad.error
    assert not cas_integrate.run({"expression": "x", "lower": "0"}).ok

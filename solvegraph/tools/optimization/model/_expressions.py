"""Models the way an LLM writes them: indexed sets, parameters and expression strings.

LLMOPT's five-element formulation, OptiMUS's parameter/variable/constraint JSON and
Pyomo/PuLP habits all come down to the same shape, which this module expands into the
plain declarative model of :mod:`._optmodel` (one scalar variable per index, one
``coeffs`` row per constraint instance)::

    {"sets": {"I": ["p1", "p2"], "J": 3},                    # a list, or n for 0..n-1
     "parameters": {"cost": {"p1": [4, 6, 9], "p2": [5, 4, 7]}, "budget": 30},
     "variables": [{"name": "x", "index": ["I", "J"], "type": "integer", "lb": 0, "ub": "cap[j]"}],
     "constraints": [{"name": "assign", "for": "i in I", "expr": "sum(x[i,j] for j in J) == 1"},
                     {"name": "spend", "expr": "sum(cost[i][j]*x[i,j] for i in I for j in J) <= budget"}],
     "objective": {"sense": "minimize", "expr": "sum(cost[i,j]*x[i,j] for i in I for j in J)"}}

Expressions are compiled once per text by :mod:`._optcompile` (a whitelist of node types,
never ``eval``, and a step budget so a hostile nesting of generators cannot hang the host);
this module reads the model's shape: sets, parameters, indexed variables, ``for``/``where``
rows and the objective.
"""

from __future__ import annotations

import ast
import itertools
import math
from typing import Any

from ._compile import MAX_SET_SIZE, Compiler, Poly, var_name
from ._errors import ModelError

_INDEXED_ROOT = ("sets", "parameters")
_COMPARE: dict[type, str] = {ast.LtE: "<=", ast.GtE: ">=", ast.Eq: "=", ast.Lt: "<", ast.Gt: ">"}


def is_indexed(data: dict[str, Any]) -> bool:
    """Whether a raw model uses sets, parameters, indexed variables or expression strings."""
    if any(k in data for k in _INDEXED_ROOT):
        return True
    rows = [*(data.get("variables") or []), *(data.get("constraints") or [])]
    if any(isinstance(r, dict) and ("index" in r or "expr" in r or "for" in r) for r in rows):
        return True
    return isinstance(data.get("objective"), dict) and "expr" in data["objective"]


class Expander(Compiler):
    """Expands an indexed, expression-based model into the plain declarative one."""

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__()
        self.data = data
        self.aux: list[dict[str, Any]] = []  # variables introduced for abs/min/max
        self.general: list[dict[str, Any]] = []
        self._comparisons: dict[tuple[str, str], tuple[list[type], list[Any]]] = {}

    # -- the model ---------------------------------------------------------------
    def expand(self) -> dict[str, Any]:
        data = self.data
        self._sets(data.get("sets"))
        self._params(data.get("parameters"))
        out = {k: v for k, v in data.items() if k not in _INDEXED_ROOT}
        out["variables"] = self._variables(data.get("variables"))
        constraints = []
        for i, c in enumerate(data.get("constraints") or []):
            constraints.extend(self._constraint(c, f"constraints[{i}]"))
        out["constraints"] = constraints
        if isinstance(data.get("objective"), dict) and "expr" in data["objective"]:
            out["objective"] = self._objective(data["objective"])
        out["variables"] = out["variables"] + self.aux
        if self.general:
            out["general"] = [*(data.get("general") or []), *self.general]
        return out

    def _sets(self, raw: Any) -> None:
        if raw is None:
            return
        if not isinstance(raw, dict):
            raise ModelError("sets", 'must be an object of named sets, e.g. {"I": ["a", "b"], "T": 24}')
        for name, members in raw.items():
            path = f"sets.{name}"
            self._identifier(name, path)
            if isinstance(members, int) and not isinstance(members, bool):
                if not 0 <= members <= MAX_SET_SIZE:
                    raise ModelError(path, f"a set size must be between 0 and {MAX_SET_SIZE}")
                members = list(range(members))
            if not isinstance(members, list) or not all(
                isinstance(m, str | int) and not isinstance(m, bool) for m in members
            ):
                raise ModelError(path, "must be a list of strings or integers, or a size n for 0..n-1")
            if len(set(members)) != len(members):
                raise ModelError(path, "has repeated members")
            if len(members) > MAX_SET_SIZE:
                raise ModelError(path, f"has more than {MAX_SET_SIZE} members")
            self.sets[name] = members

    def _params(self, raw: Any) -> None:
        if raw is None:
            return
        if not isinstance(raw, dict):
            raise ModelError("parameters", 'must be an object of named values, e.g. {"cost": {"a": 3}}')
        for name, value in raw.items():
            self._identifier(name, f"parameters.{name}")
            if name in self.sets:
                raise ModelError(f"parameters.{name}", f"'{name}' is already a set")
            self.params[name] = value

    def _identifier(self, name: Any, path: str) -> str:
        if not isinstance(name, str) or not name.isidentifier() or name in ("sum", "abs", "min", "max", "range"):
            raise ModelError(path, f"{name!r} is not a usable name (letters, digits and _; not a built-in)")
        return name

    def _variables(self, raw: Any) -> list[dict[str, Any]]:
        if not isinstance(raw, list) or not raw:
            raise ModelError("variables", "must be a non-empty list of {name, type, lb, ub, index}")
        out: list[dict[str, Any]] = []
        for i, v in enumerate(raw):
            path = f"variables[{i}]"
            if not isinstance(v, dict):
                raise ModelError(path, "must be an object {name, type, lb, ub}")
            name = v.get("name")
            if "index" not in v and "for" not in v:
                if isinstance(name, str):
                    self.scalars.add(name)
                    self.names.add(name)
                out.append(self._bounds(v, {}, path))
                continue
            name = self._identifier(name, f"{path}.name")
            sets, letters = self._index(v, path)
            self.indexed[name] = len(sets)
            template = {k: val for k, val in v.items() if k not in ("index", "for")}
            computed = any(self._computed(template.get(side)) for side in ("lb", "ub"))
            self.step(math.prod(len(self.sets[s]) for s in sets))  # before any is made: 10^6 x 10^6 is refused
            for combo in itertools.product(*(self.sets[s] for s in sets)):
                scalar = {**template, "name": var_name(name, combo)}
                self.names.add(scalar["name"])
                out.append(self._bounds(scalar, dict(zip(letters, combo, strict=True)), path) if computed else scalar)
        return out

    @staticmethod
    def _computed(bound: Any) -> bool:
        """Whether a bound is an expression to evaluate (``"cap[i]"``), not a number or an infinity."""
        return isinstance(bound, str) and bound.strip().lower() not in ("inf", "+inf", "-inf", "infinity")

    def _index(self, v: dict[str, Any], path: str) -> tuple[list[str], list[str]]:
        """The sets an indexed variable ranges over, and the index names its bounds may use.

        ``"for": "i in I, j in J"`` names them; ``"index": ["I", "J"]`` binds each set's lower-case name.
        """
        if "for" in v:
            if "index" in v:
                raise ModelError(f"{path}.index", "give either 'index' or 'for', not both")
            loops = self._loops(v["for"], f"{path}.for")
            return [s for _, s in loops], [n for n, _ in loops]
        index = v["index"]
        index = [index] if isinstance(index, str) else index
        if not isinstance(index, list) or not index or not all(isinstance(s, str) for s in index):
            raise ModelError(f"{path}.index", "must name a set, or a list of sets")
        for j, s in enumerate(index):
            if s not in self.sets:
                raise ModelError(f"{path}.index[{j}]", self.unknown(s, self.sets, "set"))
        return index, [s.lower() for s in index]

    def _bounds(self, v: dict[str, Any], env: dict[str, Any], path: str) -> dict[str, Any]:
        """Bounds written as expressions of parameters (``"ub": "cap[i]"``) become numbers."""
        for side in ("lb", "ub"):
            bound = v.get(side)
            if self._computed(bound):
                value = self.evaluate(bound, f"{path}.{side}", env)
                if isinstance(value, Poly):
                    raise ModelError(f"{path}.{side}", "a bound must be a number, not an expression of variables")
                v = {**v, side: value}
        return v

    def _loops(self, raw: Any, path: str) -> list[tuple[str, str]]:
        """``"i in I, j in J"`` (or a list of such) as (index name, set name) pairs."""
        if raw is None:
            return []
        parts = raw if isinstance(raw, list) else [raw]
        loops: list[tuple[str, str]] = []
        for part in parts:
            if not isinstance(part, str):
                raise ModelError(path, 'must be like "i in I" or "i in I, j in J"')
            for clause in part.split(","):
                words = clause.split()
                if len(words) != 3 or words[1] != "in" or not words[0].isidentifier():
                    raise ModelError(path, f"cannot read {clause.strip()!r}: write 'i in I'")
                if words[2] not in self.sets:
                    raise ModelError(path, self.unknown(words[2], self.sets, "set"))
                loops.append((words[0], words[2]))
        return loops

    def _instances(self, row: dict[str, Any], path: str) -> list[tuple[str, dict[str, Any]]]:
        """Each (name suffix, index environment) a ``for``/``where`` row stands for."""
        loops = self._loops(row.get("for"), f"{path}.for")
        where = row.get("where")
        out = []
        for combo in itertools.product(*(self.sets[s] for _, s in loops)):
            env = {n: val for (n, _), val in zip(loops, combo, strict=True)}
            if where is not None:
                keep = self.evaluate(where, f"{path}.where", env)
                if not isinstance(keep, bool):
                    raise ModelError(f"{path}.where", "must be a condition on the indices, e.g. 'i != j'")
                if not keep:
                    continue
            out.append((f"[{','.join(str(c) for c in combo)}]" if loops else "", env))
        return out

    def _constraint(self, c: Any, path: str) -> list[dict[str, Any]]:
        if not isinstance(c, dict) or "expr" not in c:
            if isinstance(c, dict) and ("for" in c or "where" in c):
                raise ModelError(f"{path}.expr", "a constraint with 'for' needs an 'expr' string")
            return [c]
        for key in ("coeffs", "sense", "rhs"):
            if key in c:
                raise ModelError(f"{path}.{key}", "give either 'expr' or coeffs/sense/rhs, not both")
        out = []
        base = str(c.get("name") or path.replace("constraints", "c").replace("[", "").replace("]", ""))
        for suffix, env in self._instances(c, path):
            row = {k: v for k, v in c.items() if k not in ("expr", "for", "where", "name")}
            row["name"] = base + suffix
            row.update(self.comparison(c["expr"], f"{path}.expr", env))
            out.append(row)
        return out

    def _objective(self, obj: dict[str, Any]) -> dict[str, Any]:
        if "coeffs" in obj:
            raise ModelError("objective.coeffs", "give either 'expr' or 'coeffs', not both")
        value = self.evaluate(obj["expr"], "objective.expr", {})
        poly = value if isinstance(value, Poly) else Poly(const=self.number(value, "objective.expr"))
        out = {k: v for k, v in obj.items() if k != "expr"}
        out["coeffs"] = {n: c for n, c in poly.lin.items() if c}
        if poly.quad:
            out["quadratic"] = [[a, b, c] for (a, b), c in poly.quad.items() if c]
        if poly.const:
            out["constant"] = poly.const + float(obj.get("constant", 0) or 0)
        return out

    def comparison(self, text: Any, path: str, env: dict[str, Any]) -> dict[str, Any]:
        """``lhs <= rhs``, ``==``, ``>=``, or a range ``lo <= expr <= hi``, as coeffs/sense/rhs (or lb/ub)."""
        key = (text, path) if isinstance(text, str) else None
        compiled = self._comparisons.get(key) if key else None
        if compiled is None:
            tree = self.parse(text, path)
            if not isinstance(tree, ast.Compare) or not all(type(op) in _COMPARE for op in tree.ops):
                raise ModelError(path, "must be a comparison: expression <=, >= or == expression")
            if any(type(op) in (ast.Lt, ast.Gt) for op in tree.ops):
                raise ModelError(path, "strict < and > have no meaning for a solver: use <= or >=")
            if len(tree.ops) == 2 and {type(op) for op in tree.ops} not in ({ast.LtE}, {ast.GtE}):
                raise ModelError(path, "a range must read lo <= expression <= hi")
            if len(tree.ops) > 2:
                raise ModelError(path, "a range must read lo <= expression <= hi")
            compiled = ([type(op) for op in tree.ops], [self.compile(n, path) for n in (tree.left, *tree.comparators)])
            if key:
                self._comparisons[key] = compiled
        ops, side_fns = compiled
        sides = [self.as_poly(self.run(fn, env, path), path) for fn in side_fns]
        if len(ops) == 1:
            diff = sides[0].plus(sides[1].scaled(-1.0))
            return {**self._row(diff, path), "sense": _COMPARE[ops[0]], "rhs": -diff.const}
        lo, mid, hi = sides if ops[0] is ast.LtE else sides[::-1]
        if lo.lin or lo.quad or hi.lin or hi.quad:
            raise ModelError(path, "in a range lo <= expression <= hi, lo and hi must be constants")
        return {**self._row(mid, path), "lb": lo.const - mid.const, "ub": hi.const - mid.const}

    def _row(self, poly: Poly, path: str) -> dict[str, Any]:
        coeffs = {n: c for n, c in poly.lin.items() if c}
        quad = [[a, b, c] for (a, b), c in poly.quad.items() if c]
        if not coeffs and not quad:
            raise ModelError(path, "has no variables left once simplified; it is a constant comparison")
        return {"coeffs": coeffs, **({"quadratic": quad} if quad else {})}

    def general_term(self, fn: str, args: list[Poly], path: str) -> Poly:
        """abs/min/max of expressions: a new variable, defined by a ``general`` constraint (linearised when built)."""
        for a in args:
            if a.quad:
                raise ModelError(path, f"{fn}(...) of a quadratic expression is not supported")
        result = f"_{fn}{len(self.general) + 1}"
        self.aux.append({"name": result, "type": "continuous", "lb": None, "ub": None})
        self.general.append(
            {
                "name": f"{result}_def",
                "fn": fn,
                "result": result,
                "args": [{"coeffs": dict(a.lin), "constant": a.const} for a in args],
            }
        )
        self.scalars.add(result)
        self.names.add(result)
        return Poly({result: 1.0})


def expand(data: dict[str, Any]) -> dict[str, Any]:
    """The plain declarative model for an indexed/expression model (unchanged if it is plain already)."""
    if not is_indexed(data):
        return data
    return Expander(data).expand()

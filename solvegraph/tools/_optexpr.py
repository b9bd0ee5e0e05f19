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

Expressions are parsed with :mod:`ast` and evaluated by a small interpreter over a whitelist
of node types (numbers, names, indexing, + - * / **2, comparisons, ``sum`` over generators,
``abs``/``min``/``max``): never ``eval``, no attribute access, no calls but those four and
``range``, and a step budget so a hostile nesting of generators cannot hang the host.
"""

from __future__ import annotations

import ast
import difflib
import itertools
import math
import operator
from typing import Any

from ._opterror import MAX_MAGNITUDE, ModelError

MAX_EXPR_CHARS = 20_000
MAX_SET_SIZE = 1_000_000
MAX_STEPS = 5_000_000  # interpreter steps for a whole model: bounded host work for any input
_INDEXED_ROOT = ("sets", "parameters")
_COMPARE = {ast.LtE: "<=", ast.GtE: ">=", ast.Eq: "=", ast.Lt: "<", ast.Gt: ">"}
_INDEX_OPS = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}  # fmt: skip


class Poly:
    """A polynomial of degree at most 2 in the model's variables: linear, quadratic and constant parts."""

    __slots__ = ("const", "lin", "quad")

    def __init__(self, lin: dict[str, float] | None = None, quad: dict[tuple[str, str], float] | None = None,
                 const: float = 0.0) -> None:  # fmt: skip
        self.lin = lin or {}
        self.quad = quad or {}
        self.const = const

    def scaled(self, k: float) -> Poly:
        return Poly({n: k * c for n, c in self.lin.items()}, {p: k * c for p, c in self.quad.items()}, k * self.const)

    def plus(self, other: Poly) -> Poly:
        lin, quad = dict(self.lin), dict(self.quad)
        for n, c in other.lin.items():
            lin[n] = lin.get(n, 0.0) + c
        for p, c in other.quad.items():
            quad[p] = quad.get(p, 0.0) + c
        return Poly(lin, quad, self.const + other.const)

    def times(self, other: Poly) -> Poly | None:
        """The product, or None when it would be of degree above 2."""
        if (self.quad and (other.lin or other.quad)) or (other.quad and self.lin):
            return None
        out = self.scaled(other.const).plus(other.scaled(self.const)).plus(Poly(const=-self.const * other.const))
        for a, ca in self.lin.items():
            for b, cb in other.lin.items():
                key = (a, b) if a <= b else (b, a)
                out.quad[key] = out.quad.get(key, 0.0) + ca * cb
        return out


Value = Any  # an index value (int or str), a number, a list/dict parameter, or a Poly


def is_indexed(data: dict[str, Any]) -> bool:
    """Whether a raw model uses sets, parameters, indexed variables or expression strings."""
    if any(k in data for k in _INDEXED_ROOT):
        return True
    rows = [*(data.get("variables") or []), *(data.get("constraints") or [])]
    if any(isinstance(r, dict) and ("index" in r or "expr" in r or "for" in r) for r in rows):
        return True
    return isinstance(data.get("objective"), dict) and "expr" in data["objective"]


class Expander:
    """Expands an indexed, expression-based model into the plain declarative one."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.steps = 0
        self.sets: dict[str, list[Any]] = {}
        self.params: dict[str, Any] = {}
        self.scalars: set[str] = set()  # scalar variable names
        self.indexed: dict[str, int] = {}  # indexed variable name -> arity
        self.names: set[str] = set()  # every expanded variable name
        self.aux: list[dict[str, Any]] = []  # variables introduced for abs/min/max
        self.general: list[dict[str, Any]] = []
        self.path = ""

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

    def _identifier(self, name: Any, path: str) -> None:
        if not isinstance(name, str) or not name.isidentifier() or name in ("sum", "abs", "min", "max", "range"):
            raise ModelError(path, f"{name!r} is not a usable name (letters, digits and _; not a built-in)")

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
            self._identifier(name, f"{path}.name")
            sets, letters = self._index(v, path)
            self.indexed[name] = len(sets)
            for combo in itertools.product(*(self.sets[s] for s in sets)):
                self._step(1)
                scalar = {k: val for k, val in v.items() if k not in ("index", "for")}
                scalar["name"] = var_name(name, combo)
                self.names.add(scalar["name"])
                out.append(self._bounds(scalar, dict(zip(letters, combo, strict=True)), path))
        return out

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
                raise ModelError(f"{path}.index[{j}]", self._unknown(s, self.sets, "set"))
        return index, [s.lower() for s in index]

    def _bounds(self, v: dict[str, Any], env: dict[str, Any], path: str) -> dict[str, Any]:
        """Bounds written as expressions of parameters (``"ub": "cap[i]"``) become numbers."""
        for side in ("lb", "ub"):
            bound = v.get(side)
            if isinstance(bound, str) and bound.strip().lower() not in ("inf", "+inf", "-inf", "infinity"):
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
                    raise ModelError(path, self._unknown(words[2], self.sets, "set"))
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
        tree = self._parse(text, path)
        if not isinstance(tree, ast.Compare) or not all(type(op) in _COMPARE for op in tree.ops):
            raise ModelError(path, "must be a comparison: expression <=, >= or == expression")
        if any(type(op) in (ast.Lt, ast.Gt) for op in tree.ops):
            raise ModelError(path, "strict < and > have no meaning for a solver: use <= or >=")
        sides = [self._as_poly(self._guarded(n, env, path), path) for n in (tree.left, *tree.comparators)]
        if len(tree.ops) == 1:
            diff = sides[0].plus(sides[1].scaled(-1.0))
            return {**self._row(diff, path), "sense": _COMPARE[type(tree.ops[0])], "rhs": -diff.const}
        if len(tree.ops) == 2 and {type(op) for op in tree.ops} in ({ast.LtE}, {ast.GtE}):
            lo, mid, hi = sides if type(tree.ops[0]) is ast.LtE else sides[::-1]
            if lo.lin or lo.quad or hi.lin or hi.quad:
                raise ModelError(path, "in a range lo <= expression <= hi, lo and hi must be constants")
            return {**self._row(mid, path), "lb": lo.const - mid.const, "ub": hi.const - mid.const}
        raise ModelError(path, "a range must read lo <= expression <= hi")

    def _row(self, poly: Poly, path: str) -> dict[str, Any]:
        coeffs = {n: c for n, c in poly.lin.items() if c}
        quad = [[a, b, c] for (a, b), c in poly.quad.items() if c]
        if not coeffs and not quad:
            raise ModelError(path, "has no variables left once simplified; it is a constant comparison")
        return {"coeffs": coeffs, **({"quadratic": quad} if quad else {})}

    # -- the interpreter -----------------------------------------------------------
    def _parse(self, text: Any, path: str) -> ast.expr:
        if not isinstance(text, str) or not text.strip():
            raise ModelError(path, "must be an expression string")
        if len(text) > MAX_EXPR_CHARS:
            raise ModelError(path, f"is longer than {MAX_EXPR_CHARS} characters; use sets and sum(...)")
        try:
            return ast.parse(text.strip(), mode="eval").body
        except SyntaxError as exc:
            raise ModelError(path, f"cannot parse {text.strip()[:80]!r}: {exc.msg}") from None
        except (RecursionError, MemoryError, ValueError):  # deep nesting; a NUL byte
            raise ModelError(path, "cannot parse: nested too deeply or not text; use sum(...)") from None

    def evaluate(self, text: Any, path: str, env: dict[str, Any]) -> Value:
        return self._guarded(self._parse(text, path), env, path)

    def _guarded(self, node: ast.AST, env: dict[str, Any], path: str) -> Value:
        """Evaluate, turning Python's recursion limit (a chain of thousands of '+') into a ModelError."""
        try:
            return self._eval(node, env, path)
        except RecursionError:
            raise ModelError(path, "is nested too deeply; use sum(...) over a set") from None

    def _step(self, n: int = 1) -> None:
        self.steps += n
        if self.steps > MAX_STEPS:
            raise ModelError(self.path or "(model)", f"the model expands to more than {MAX_STEPS:,} terms")

    def _eval(self, node: ast.AST, env: dict[str, Any], path: str) -> Value:
        self._step()
        self.path = path
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, int | float | str):
                raise ModelError(path, f"unsupported constant {node.value!r}")
            return node.value
        if isinstance(node, ast.Name):
            return self._name(node.id, env, path)
        if isinstance(node, ast.Subscript):
            return self._subscript(node, env, path)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            value = self._eval(node.operand, env, path)
            if isinstance(node.op, ast.UAdd):
                return value
            return value.scaled(-1.0) if isinstance(value, Poly) else -self.number(value, path)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return not self._condition(node.operand, env, path)
        if isinstance(node, ast.BinOp):
            return self._binop(node, env, path)
        if isinstance(node, ast.Call):
            return self._call(node, env, path)
        if isinstance(node, ast.Compare | ast.BoolOp):
            return self._condition(node, env, path)
        raise ModelError(path, f"'{ast.unparse(node)[:60]}' is not allowed in a model expression")

    def _name(self, name: str, env: dict[str, Any], path: str) -> Value:
        if name in env:
            return env[name]
        if name in self.params:
            return self.params[name]
        if name in self.scalars:
            return Poly({name: 1.0})
        if name in self.indexed:
            raise ModelError(path, f"'{name}' is indexed: write {name}[...]")
        if name in self.sets:
            return self.sets[name]
        known = {*env, *self.params, *self.scalars, *self.indexed, *self.sets}
        raise ModelError(path, self._unknown(name, known, "name"))

    def _subscript(self, node: ast.Subscript, env: dict[str, Any], path: str) -> Value:
        parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        keys = [self._eval(p, env, path) for p in parts]
        for k in keys:
            if isinstance(k, Poly) or not isinstance(k, int | str | float) or isinstance(k, bool):
                raise ModelError(path, f"an index must be a set member or number, got {ast.unparse(node.slice)!r}")
        keys = [int(k) if isinstance(k, float) and k == int(k) else k for k in keys]
        if isinstance(node.value, ast.Name) and node.value.id in self.indexed and node.value.id not in env:
            name = node.value.id
            if len(keys) != self.indexed[name]:
                raise ModelError(path, f"'{name}' takes {self.indexed[name]} indices, got {len(keys)}")
            scalar = var_name(name, keys)
            if scalar not in self.names:
                raise ModelError(path, f"{scalar} is not a variable: an index is outside its set")
            return Poly({scalar: 1.0})
        return lookup(self._eval(node.value, env, path), keys, ast.unparse(node), path)

    def _binop(self, node: ast.BinOp, env: dict[str, Any], path: str) -> Value:
        left, right = self._eval(node.left, env, path), self._eval(node.right, env, path)
        if not isinstance(left, Poly) and not isinstance(right, Poly):
            if isinstance(left, str) or isinstance(right, str):
                raise ModelError(path, f"cannot compute {ast.unparse(node)[:60]!r} on names")
            a, b = self.number(left, path), self.number(right, path)
            try:
                result = {ast.Add: a + b, ast.Sub: a - b, ast.Mult: a * b}.get(type(node.op))
                if result is None:
                    result = self._numeric(node.op, a, b, path)
            except (ZeroDivisionError, OverflowError) as exc:
                raise ModelError(path, f"{ast.unparse(node)[:60]!r}: {exc}") from None
            return result
        lp, rp = self._as_poly(left, path), self._as_poly(right, path)
        if isinstance(node.op, ast.Add):
            return lp.plus(rp)
        if isinstance(node.op, ast.Sub):
            return lp.plus(rp.scaled(-1.0))
        if isinstance(node.op, ast.Mult):
            return self._product(lp, rp, node, path)
        if isinstance(node.op, ast.Div) and not isinstance(right, Poly):
            divisor = self.number(right, path)
            if divisor == 0:
                raise ModelError(path, f"{ast.unparse(node)[:60]!r} divides by zero")
            return lp.scaled(1.0 / divisor)
        if isinstance(node.op, ast.Pow) and not isinstance(right, Poly) and self.number(right, path) in (1, 2):
            return lp if self.number(right, path) == 1 else self._product(lp, lp, node, path)
        raise ModelError(path, f"{ast.unparse(node)[:60]!r}: only +, -, * and / by a constant, and **2, are allowed")

    def _product(self, a: Poly, b: Poly, node: ast.AST, path: str) -> Poly:
        """``a * b`` (and ``a ** 2``), refused when a term would be of degree above 2."""
        product = a.times(b)
        if product is None:
            raise ModelError(path, f"{ast.unparse(node)[:60]!r} has a term of degree above 2")
        return product

    def _numeric(self, op: ast.operator, a: float, b: float, path: str) -> float:
        if isinstance(op, ast.Div):
            return a / b
        if isinstance(op, ast.Pow):
            if abs(b) > 64:
                raise ModelError(path, "exponent out of range")
            return float(a**b)
        if isinstance(op, ast.Mod):
            return a % b
        if isinstance(op, ast.FloorDiv):
            return a // b
        raise ModelError(path, "unsupported operator")

    def _call(self, node: ast.Call, env: dict[str, Any], path: str) -> Value:
        fn = node.func.id if isinstance(node.func, ast.Name) else None
        if fn not in ("sum", "abs", "min", "max", "range") or node.keywords:
            raise ModelError(path, f"'{ast.unparse(node.func)[:40]}(...)': only sum, abs, min, max and range")
        if fn == "range":
            bounds = [int(self.number(self._eval(a, env, path), path)) for a in node.args]
            if not 1 <= len(bounds) <= 2:
                raise ModelError(path, "range takes one or two numbers")
            members = range(*bounds)
            if len(members) > MAX_SET_SIZE:
                raise ModelError(path, f"range of more than {MAX_SET_SIZE} members")
            return list(members)
        items = self._items(node, env, path)
        if fn == "sum":
            return self._sum(items, path)
        if not any(isinstance(x, Poly) for x in items):
            nums = [self.number(x, path) for x in items]
            if not nums:
                raise ModelError(path, f"{fn} of nothing")
            return abs(nums[0]) if fn == "abs" and len(nums) == 1 else {"abs": abs, "min": min, "max": max}[fn](nums)
        if fn == "abs" and len(items) != 1:
            raise ModelError(path, "abs takes one expression")
        return self._general(fn, [self._as_poly(x, path) for x in items], path)

    def _items(self, node: ast.Call, env: dict[str, Any], path: str) -> list[Value]:
        if len(node.args) == 1 and isinstance(node.args[0], ast.GeneratorExp | ast.ListComp):
            gen = node.args[0]
            return list(self._generate(gen.elt, gen.generators, env, path))
        if len(node.args) == 1 and not isinstance(node.args[0], ast.Starred):
            value = self._eval(node.args[0], env, path)
            if isinstance(value, list):
                return value
            if isinstance(value, dict):
                return list(value.values())
            return [value]
        return [self._eval(a, env, path) for a in node.args]

    def _generate(self, elt: ast.expr, gens: list[ast.comprehension], env: dict[str, Any], path: str) -> Any:
        if not gens:
            yield self._eval(elt, env, path)
            return
        first, rest = gens[0], gens[1:]
        if first.is_async:
            raise ModelError(path, "async comprehensions are not allowed")
        members = self._eval(first.iter, env, path)
        if isinstance(members, dict):
            members = list(members)
        if not isinstance(members, list):
            raise ModelError(path, f"'{ast.unparse(first.iter)[:40]}' is not a set to iterate over")
        for member in members:
            self._step()
            inner = dict(env)
            self._bind(first.target, member, inner, path)
            if all(self._condition(cond, inner, path) for cond in first.ifs):
                yield from self._generate(elt, rest, inner, path)

    def _bind(self, target: ast.expr, member: Any, env: dict[str, Any], path: str) -> None:
        if isinstance(target, ast.Name):
            env[target.id] = member
            return
        if isinstance(target, ast.Tuple) and all(isinstance(t, ast.Name) for t in target.elts):
            values = member if isinstance(member, list | tuple) else str(member).split(",")
            if len(values) != len(target.elts):
                raise ModelError(path, f"cannot unpack {member!r} into {ast.unparse(target)}")
            for t, v in zip(target.elts, values, strict=True):
                env[t.id] = v  # type: ignore[attr-defined]
            return
        raise ModelError(path, f"cannot loop with '{ast.unparse(target)}'")

    def _condition(self, node: ast.AST, env: dict[str, Any], path: str) -> bool:
        self._step()
        if isinstance(node, ast.BoolOp):
            values = (self._condition(v, env, path) for v in node.values)
            return all(values) if isinstance(node.op, ast.And) else any(values)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return not self._condition(node.operand, env, path)
        if isinstance(node, ast.Compare):
            left = self._eval(node.left, env, path)
            for op, right_node in zip(node.ops, node.comparators, strict=True):
                right = self._eval(right_node, env, path)
                if isinstance(left, Poly) or isinstance(right, Poly):
                    raise ModelError(path, "a condition on indices cannot involve variables")
                if type(op) not in _INDEX_OPS:
                    raise ModelError(path, "unsupported comparison")
                try:
                    if not _INDEX_OPS[type(op)](left, right):
                        return False
                except TypeError:
                    raise ModelError(path, f"cannot compare {left!r} with {right!r}") from None
                left = right
            return True
        raise ModelError(path, f"'{ast.unparse(node)[:60]}' is not a condition")

    def _sum(self, items: list[Value], path: str) -> Value:
        total: Poly | float = 0.0
        lin: dict[str, float] = {}
        for item in items:
            self._step()
            if isinstance(item, Poly):
                if not item.quad and len(item.lin) == 1 and not item.const:  # the common term: fast
                    (n, c), = item.lin.items()  # fmt: skip
                    lin[n] = lin.get(n, 0.0) + c
                    continue
                total = item.plus(total if isinstance(total, Poly) else Poly(const=total))
            elif isinstance(total, Poly):
                total = total.plus(Poly(const=self.number(item, path)))
            else:
                total += self.number(item, path)
        if not lin:
            return total
        return Poly(lin).plus(total if isinstance(total, Poly) else Poly(const=total))

    def _general(self, fn: str, args: list[Poly], path: str) -> Poly:
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

    # -- helpers ---------------------------------------------------------------------
    def number(self, value: Value, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ModelError(path, f"expected a number, got {describe(value)}")
        if not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
            raise ModelError(path, f"{value!r} is out of range: |value| must be at most {MAX_MAGNITUDE:g}")
        return value

    def _as_poly(self, value: Value, path: str) -> Poly:
        return value if isinstance(value, Poly) else Poly(const=self.number(value, path))

    @staticmethod
    def _unknown(name: str, known: Any, what: str) -> str:
        close = difflib.get_close_matches(name, sorted(str(k) for k in known), n=1)
        return f"unknown {what} '{name}'" + (f"; did you mean '{close[0]}'?" if close else "")


def var_name(name: str, index: Any) -> str:
    """The scalar variable for ``x[i, j]``: ``x[i,j]``."""
    return f"{name}[{','.join(str(k) for k in index)}]"


def describe(value: Any) -> str:
    if isinstance(value, Poly):
        return "an expression of variables"
    if isinstance(value, list | dict):
        return f"a {type(value).__name__} (index it)"
    return repr(value)


def lookup(table: Any, keys: list[Any], text: str, path: str) -> Any:
    """``p[i, j]`` on nested lists/dicts (``p[i][j]``) or on a flat dict keyed "i,j"."""
    if isinstance(table, dict) and len(keys) > 1:
        flat = ",".join(str(k) for k in keys)
        if flat in table:
            return table[flat]
    value = table
    for k in keys:
        if isinstance(value, dict):
            if k in value:
                value = value[k]
            elif str(k) in value:
                value = value[str(k)]
            else:
                raise ModelError(path, f"{text}: no entry for {k!r}")
        elif isinstance(value, list):
            if not isinstance(k, int) or not -len(value) <= k < len(value):
                raise ModelError(path, f"{text}: index {k!r} is outside the list of {len(value)}")
            value = value[k]
        else:
            raise ModelError(path, f"{text}: {describe(value)} cannot be indexed")
    return value


def expand(data: dict[str, Any]) -> dict[str, Any]:
    """The plain declarative model for an indexed/expression model (unchanged if it is plain already)."""
    if not is_indexed(data):
        return data
    return Expander(data).expand()

"""A CpModelProto read into the declarative model, so the independent re-check can evaluate it.

Runs in the fresh sandboxed CP-SAT worker that re-checks code mode (``worker.recheck_claim``), on the
model file the kernel wrote. Only OR-Tools' proto and the model core are needed.
"""

from __future__ import annotations

from typing import Any

from .._readback import unique_name

_KINDS = (
    "linear", "all_diff", "interval", "no_overlap", "no_overlap_2d", "cumulative", "element", "table",
    "automaton", "bool_or", "bool_and", "bool_xor", "at_most_one", "exactly_one", "lin_max", "int_prod",
    "int_div", "int_mod", "inverse", "circuit", "routes", "reservoir", "dummy_constraint",
)  # fmt: skip


def _kind(ct: Any) -> str:
    """Which constraint a ConstraintProto holds (the 9.x wrappers have has_* but no WhichOneof)."""
    return next((k for k in _KINDS if getattr(ct, f"has_{k}", lambda: False)()), "unknown")


class ProtoReader:
    """Reads a CpModelProto into the declarative model, so the independent re-check can evaluate it."""

    def __init__(self, proto: Any) -> None:
        self.proto = proto
        seen: dict[str, int] = {}
        # Unique, usable names: CP-SAT allows repeated or empty names, and "~" marks a negated literal here.
        self.names = [
            unique_name(v.name if v.name and not v.name.startswith("~") else f"v{i}", seen)
            for i, v in enumerate(proto.variables)
        ]
        self.unchecked: dict[str, list[str]] = {}
        self.model: dict[str, Any] = {"variables": [], "constraints": []}

    def literal(self, ref: int) -> str:
        return self.names[ref] if ref >= 0 else "~" + self.names[-ref - 1]

    def coeffs(self, e: Any) -> dict[str, float]:
        """Coefficients by variable name; a variable listed twice has its coefficients summed."""
        out: dict[str, float] = {}
        for v, c in zip(list(e.vars), list(e.coeffs), strict=True):
            out[self.names[v]] = out.get(self.names[v], 0) + c
        return out

    def affine(self, e: Any) -> dict[str, Any]:
        return {"coeffs": self.coeffs(e), "constant": e.offset}

    def plain_var(self, e: Any) -> str | None:
        """The variable name if the expression is just one variable, else None."""
        return self.names[e.vars[0]] if len(e.vars) == 1 and e.coeffs[0] == 1 and not e.offset else None

    def add(self, key: str, entry: dict[str, Any]) -> None:
        self.model.setdefault(key, []).append(entry)

    def skip(self, kind: str, name: str) -> None:
        self.unchecked.setdefault(kind, []).append(name)

    def read(self) -> dict[str, Any]:
        seen: dict[str, int] = {}
        for i, v in enumerate(self.proto.variables):
            domain = list(v.domain)  # list() first: the 9.15 proto wrappers do not support negative indexing
            var = {"name": self.names[i], "type": "integer", "lb": domain[0], "ub": domain[-1]}
            self.model["variables"].append(var)
            if len(domain) > 2:
                self.skip("variable domain with holes", self.names[i])
        names = [unique_name(ct.name or f"c{k}", seen) for k, ct in enumerate(self.proto.constraints)]
        interval_names = dict(enumerate(names))  # no_overlap and cumulative name intervals by constraint index
        for ct, name in zip(self.proto.constraints, names, strict=True):
            self.constraint(ct, name, interval_names)
        objective = self.proto.objective
        if self.proto.has_objective():
            sign = -1 if objective.scaling_factor < 0 else 1
            self.model["objective"] = {
                "sense": "maximize" if sign < 0 else "minimize",
                "coeffs": {self.names[v]: sign * c for v, c in zip(objective.vars, objective.coeffs, strict=True)},
                "constant": sign * objective.offset,
            }
        elif self.proto.has_floating_point_objective():
            self.skip("floating-point objective", "objective")
        return self.model

    def constraint(self, ct: Any, name: str, intervals: dict[int, str]) -> None:
        kind = _kind(ct)
        enforced = [self.literal(x) for x in ct.enforcement_literal]
        if enforced and kind not in ("linear", "bool_or", "bool_and", "interval"):
            self.skip(f"enforced {kind}", name)
            return
        only_if = {"only_if": enforced} if enforced else {}
        if kind == "linear":
            domain = list(ct.linear.domain)
            if len(domain) != 2:
                self.skip("linear (domain with holes)", name)
                return
            lo, hi = domain
            coeffs = self.coeffs(ct.linear)
            if lo == hi:
                row = {"sense": "=", "rhs": lo}
            else:
                row = {"lb": lo if lo > -(2**62) else None, "ub": hi if hi < 2**62 else None}
            self.model["constraints"].append({"name": name, "coeffs": coeffs, **row, **only_if})
        elif kind == "all_diff":
            names = [self.plain_var(e) for e in ct.all_diff.exprs]
            if None in names:
                self.skip("all_different of expressions", name)
            else:
                self.add("all_different", {"name": name, "vars": names})
        elif kind in ("bool_or", "bool_and", "bool_xor", "at_most_one", "exactly_one"):
            literals = [self.literal(x) for x in getattr(ct, kind).literals]
            self.add("boolean", {"name": name, "op": kind.removeprefix("bool_"), "literals": literals, **only_if})
        elif kind == "interval":
            iv = ct.interval
            entry = {"name": name, "start": self.affine(iv.start), "duration": self.affine(iv.size),
                     "end": self.affine(iv.end)}  # fmt: skip
            if enforced:
                entry["present"] = enforced[0]
            self.add("intervals", entry)
        elif kind == "no_overlap":
            self.add("no_overlap", {"name": name, "intervals": [intervals[i] for i in ct.no_overlap.intervals]})
        elif kind == "cumulative":
            cu = ct.cumulative
            self.add("cumulative", {"name": name, "intervals": [intervals[i] for i in cu.intervals],
                                    "demands": [self.affine(d) for d in cu.demands],
                                    "capacity": self.affine(cu.capacity)})  # fmt: skip
        elif kind == "element":
            el = ct.element
            if el.has_linear_index():
                index, target = self.affine(el.linear_index), self.affine(el.linear_target)
                array = [self.affine(e) for e in el.exprs]
            else:  # the older form: variables only
                index, target = self.names[el.index], self.names[el.target]
                array = [self.names[v] for v in el.vars]
            self.add("element", {"name": name, "index": index, "array": array, "target": target})
        elif kind == "table":
            tb = ct.table
            names = [self.plain_var(e) for e in tb.exprs] if len(tb.exprs) else [self.names[v] for v in tb.vars]
            if None in names or not names:
                self.skip("table of expressions", name)
                return
            values = list(tb.values)
            rows = [values[i : i + len(names)] for i in range(0, len(values), len(names))]
            self.add("table", {"name": name, "vars": names, "tuples": rows, "forbidden": bool(tb.negated)})
        elif kind in ("lin_max", "int_prod", "int_div", "int_mod"):
            fn = {"lin_max": "max", "int_prod": "mult", "int_div": "div", "int_mod": "mod"}[kind]
            args = getattr(ct, kind)
            self.add("general", {"name": name, "fn": fn, "result": self.affine(args.target),
                                 "args": [self.affine(e) for e in args.exprs]})  # fmt: skip
        else:  # automaton, circuit, routes, inverse, reservoir, no_overlap_2d: listed, never claimed checked
            self.skip(str(kind), name)

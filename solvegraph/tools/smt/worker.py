"""The sandboxed Z3 process's side of ``smt``: interpret the commands one by one, with SMT-LIB's meaning.

:func:`run_script` runs only in the :class:`~solvegraph.sandbox.SandboxWorker` process the host starts:
Z3's own memory cap can crash the process that hosts it, so Z3 never runs in solvegraph's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ._script import _LINE, _NAMED, DECLARATIONS, IGNORED, Command, sexprs


@dataclass
class _Assertion:
    formula: Any
    name: str | None
    text: str


@dataclass
class _Frame:
    declarations: list[str] = field(default_factory=list)
    assertions: list[_Assertion] = field(default_factory=list)


def run_script(commands: list[dict[str, Any]], timeout_s: float = 10.0) -> dict[str, Any]:
    """Interpret SMT-LIB commands with Z3, in a fresh context, and re-check every answer before giving it.

    Scopes (``push``/``pop``), ``check-sat-assuming`` and ``reset`` mean what SMT-LIB says. Named
    assertions are tracked with fresh literals (never a symbol of the script), a ``sat`` model is
    evaluated against every assertion in scope, and an unsat core is re-solved on its own. Runs in the
    calling process: the tool calls it inside a sandboxed, memory-capped worker, one fresh context per
    call, so nothing a script declares outlives it.
    """
    import z3

    ctx = z3.Context()
    deadline = time.perf_counter() + timeout_s
    frames = [_Frame()]
    checks: list[dict[str, Any]] = []
    output: list[str] = []
    last: dict[str, Any] | None = None

    def decl_text() -> str:
        return "\n".join(d for f in frames for d in f.declarations)

    def parse(cmd: Command, text: str) -> list[Any]:
        prefix = decl_text()
        try:
            return list(z3.parse_smt2_string(prefix + "\n" + text, ctx=ctx))
        except z3.Z3Exception as exc:
            raise ValueError(_z3_message(exc, cmd, prefix.count("\n") + 1)) from None

    def terms(cmd: Command, inner: str) -> list[_Assertion]:
        """Each item of a parenthesized list of terms, parsed in the declarations in scope."""
        if not (inner.startswith("(") and inner.endswith(")")):
            raise ValueError(f"SMT-LIB error at line {cmd.line}: {cmd.head} takes a list of terms in parentheses")
        return [_Assertion(_parse_term(cmd, t, parse), t, t) for t in _items(inner[1:-1])]

    # Consecutive declarations and asserts, parsed in one call: one pass over the declarations in
    # scope, not one per command (250 declarations and 1000 asserts took 0.3 s one by one).
    pending: list[tuple[Command, str | None, str | None]] = []  # (command, assert body or None, name)

    def flush() -> None:
        """Parse what is pending together. On an error, parse each command on its own, in order, so
        the message names that command's own line."""
        if not pending:
            return
        prefix = decl_text()
        texts = [cmd.text if body is None else f"(assert {body})" for cmd, body, _ in pending]
        asserts = [p for p in pending if p[1] is not None]
        try:
            formulas = list(z3.parse_smt2_string(prefix + "\n" + "\n".join(texts), ctx=ctx))
            together = len(formulas) == len(asserts)
        except z3.Z3Exception:
            together = False
        if together:
            frames[-1].declarations.extend(cmd.text for cmd, body, _ in pending if body is None)
        else:
            formulas = []
            for cmd, body, _ in pending:
                if body is None:
                    parse(cmd, cmd.text)
                    frames[-1].declarations.append(cmd.text)
                else:
                    formulas.append(parse(cmd, f"(assert {body})")[0])
        frames[-1].assertions.extend(
            _Assertion(f, name, body) for f, (_, body, name) in zip(formulas, asserts, strict=True) if body is not None
        )
        pending.clear()

    for raw in commands:
        cmd = Command(**raw)
        head = cmd.head
        if head in IGNORED:
            continue
        if head != "assert" and head not in DECLARATIONS:
            flush()
        if head == "exit":
            break
        if head == "echo":
            output.append(cmd.body().strip('"'))
        elif head in DECLARATIONS:
            pending.append((cmd, None, None))  # checked at the next flush; an error names this line
        elif head == "assert":
            body = cmd.body()
            name = cmd.label
            m = _NAMED.match(body)
            if m:
                body, name = m.group(1).strip(), m.group(2)
            pending.append((cmd, body, name))  # parsed at the next flush
        elif head in ("push", "pop"):
            count = int(cmd.body() or "1")
            if head == "push":
                frames.extend(_Frame() for _ in range(count))
            elif count >= len(frames):
                raise ValueError(f"SMT-LIB error at line {cmd.line}: pop {count} with only {len(frames) - 1} push")
            else:
                del frames[len(frames) - count :]
        elif head == "reset":
            frames, last = [_Frame()], None
        elif head == "reset-assertions":
            frames = [_Frame(declarations=[d for f in frames for d in f.declarations])]
            last = None
        elif head in ("check-sat", "check-sat-assuming"):
            assumptions = terms(cmd, cmd.body()) if head == "check-sat-assuming" else []
            live = [a for f in frames for a in f.assertions]
            last = _check(z3, ctx, live, assumptions, max(0.001, deadline - time.perf_counter()))
            last["_basis"] = ([d for f in frames for d in f.declarations], live, assumptions)
            checks.append(last)
            output.append(last["status"])
        elif head == "get-model":
            if last is None or last["status"] != "sat":
                raise ValueError(f"SMT-LIB error at line {cmd.line}: get-model needs a sat check-sat before it")
            output.append("\n".join(f"{k} = {v}" for k, v in last["model"].items()))
        elif head == "get-unsat-core":
            if last is None or last["status"] != "unsat":
                raise ValueError(f"SMT-LIB error at line {cmd.line}: get-unsat-core needs an unsat check-sat before it")
            output.append("(" + " ".join(last.get("unsat_core", [])) + ")")
        elif head == "get-value":
            if last is None or last["status"] != "sat":
                raise ValueError(f"SMT-LIB error at line {cmd.line}: get-value needs a sat check-sat before it")
            model = last["_model"]
            values = {t.text: str(model.eval(t.formula, model_completion=True)) for t in terms(cmd, cmd.body())}
            last.setdefault("values", {}).update(values)
            output.append("(" + " ".join(f"({k} {v})" for k, v in values.items()) + ")")
    flush()
    if not checks:
        raise ValueError("SMT-LIB error: the script has no check-sat")
    basis = _certificate_basis(z3, checks[-1])
    for check in checks:
        for key in ("_model", "_basis", "_core"):
            check.pop(key, None)
    result = {k: v for k, v in checks[-1].items()}
    result["checks"] = checks if len(checks) > 1 else []
    result["output"] = output
    if basis is not None:
        result["basis"] = basis
    return result


def _certificate_basis(z3: Any, check: dict[str, Any]) -> dict[str, Any] | None:
    """What a certificate of the last check-sat needs: its assertion set as one flat script, and the model or
    the core in that script's terms. None when the answer is neither sat nor unsat.

    The script is the declarations in scope, every live assertion (with its name) and each assumption of a
    ``check-sat-assuming`` as a named assertion of its own: exactly the set Z3 judged, in the model's own
    text, so another solver reads what Z3 read. The model is Z3's, as SMT-LIB ``define-fun`` commands.
    """
    if check["status"] not in ("sat", "unsat") or "_basis" not in check:
        return None
    declarations, live, assumptions = check["_basis"]
    taken = {a.name for a in live if a.name}
    named: dict[int, str] = {}
    lines = list(declarations)
    for a in live:
        lines.append(f"(assert (! {a.text} :named {a.name}))" if a.name else f"(assert {a.text})")
        if a.name:
            named[id(a)] = a.name
    for i, a in enumerate(assumptions, 1):
        name = f"sg_assumption_{i}"
        while name in taken:
            name += "_"
        taken.add(name)
        named[id(a)] = name
        lines.append(f"(assert (! {a.text} :named {name}))")
    lines.append("(check-sat)")
    basis: dict[str, Any] = {"script": "\n".join(lines) + "\n", "z3_version": z3.get_version_string()}
    if check["status"] == "sat":
        model: dict[str, str] = {}
        for _, text in sexprs(check["_model"].sexpr()):
            parts = text[1:-1].split(None, 2)
            if len(parts) < 2 or parts[0] != "define-fun":  # e.g. the elements of an uninterpreted sort
                return {**basis, "unavailable": f"Z3's model holds '{text[:60]}', which is not a define-fun"}
            model[parts[1]] = text
        basis["model"] = model
    else:
        core = check.get("_core")
        tracked = [a for a in [*live, *assumptions] if id(a) in named]
        basis["core"] = sorted(named[id(a)] for a in (core if core is not None else tracked))
    return basis


def _items(text: str) -> list[str]:
    """Top-level items of a list's inside: atoms and parenthesized terms."""
    items, depth, start = [], 0, -1
    for i, ch in enumerate(text + " "):
        if ch == "(":
            if depth == 0:
                start = i
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                items.append(text[start : i + 1])
                start = -1
        elif depth == 0 and ch.isspace():
            if start >= 0:
                items.append(text[start:i])
                start = -1
        elif depth == 0 and start < 0:
            start = i
    return items


def _parse_term(cmd: Command, term: str, parse: Any) -> Any:
    """A term of any sort, parsed as ``(assert (= t t))`` in the declarations in scope."""
    return parse(cmd, f"(assert (= {term} {term}))")[0].arg(0)


def _conjunction(z3: Any, ctx: Any, formulas: list[Any]) -> Any:
    """``And(formulas)`` built by Z3's C API: z3.And's Python-side coercion cost 33 ms on 1000 clauses."""
    if len(formulas) == 1:
        return formulas[0]
    array = (z3.Ast * len(formulas))(*[f.as_ast() for f in formulas])
    return z3.BoolRef(z3.Z3_mk_and(ctx.ref(), len(formulas), array), ctx)


def _check(z3: Any, ctx: Any, live: list[_Assertion], assumptions: list[_Assertion], timeout_s: float) -> dict:
    """One check-sat: solve plainly, then re-check the model or extract and re-check the core."""
    started = time.perf_counter()
    solver = z3.Solver(ctx=ctx)
    solver.set("timeout", max(1, int(timeout_s * 1000)))
    if live:
        solver.add(_conjunction(z3, ctx, [a.formula for a in live]))
    result = solver.check(*[a.formula for a in assumptions])
    out: dict[str, Any] = {"status": str(result), "solve_time": time.perf_counter() - started}
    if result == z3.sat:
        model = solver.model()
        out["_model"] = model
        out["model"] = {d.name(): str(model[d]) for d in sorted(model.decls(), key=lambda d: d.name())}
        # The model must satisfy every assertion in scope and every assumption, evaluated independently.
        unchecked = []
        everything = [a.formula for a in [*live, *assumptions]]
        # One evaluation of the conjunction settles the usual case; one per assertion only to say which.
        whole = model.eval(_conjunction(z3, ctx, everything), model_completion=True) if everything else None
        for a in [] if whole is None or z3.is_true(whole) else [*live, *assumptions]:
            value = model.eval(a.formula, model_completion=True)
            if z3.is_false(value):
                return {
                    "status": "unknown",
                    "reason": f"Z3's model does not satisfy {a.name or a.text}: the sat answer was not given",
                    "solve_time": out["solve_time"],
                }
            if not z3.is_true(value):
                unchecked.append(a.name or a.text)
        out["model_checked"] = not unchecked
        if unchecked:
            out["model_note"] = f"not re-checked (the model does not decide them): {', '.join(unchecked[:5])}"
    elif result == z3.unsat:
        out["unsat_core"] = []
        tracked = [a for a in live if a.name] + assumptions
        remaining = timeout_s - (time.perf_counter() - started)
        if tracked and remaining > 0:
            out.update(_core(z3, ctx, [a for a in live if not a.name], tracked, remaining))
            if not out.get("core_checked"):
                out.pop("_core", None)  # a core not re-checked is not certified: the whole set stands instead
    else:
        reason = solver.reason_unknown()
        out["reason"] = reason
        if "timeout" in reason or "canceled" in reason:
            out["status"] = "timeout"
    return out


def _core(z3: Any, ctx: Any, hard: list[_Assertion], tracked: list[_Assertion], timeout_s: float) -> dict:
    """The named assertions in conflict, tracked with fresh literals, and re-solved on their own."""
    started = time.perf_counter()
    tracker = z3.Solver(ctx=ctx)
    tracker.set("timeout", max(1, int(timeout_s * 1000)))
    tracker.add([a.formula for a in hard])
    literals = {}
    for a in tracked:
        literal = z3.FreshBool("sg_track", ctx=ctx)  # a new constant: it cannot be one of the script's symbols
        literals[literal.get_id()] = a
        tracker.assert_and_track(a.formula, literal)
    if tracker.check() != z3.unsat:
        return {"core_note": "no core: extracting it did not finish within the time limit"}
    core = [literals[c.get_id()] for c in tracker.unsat_core()]
    names = sorted(str(a.name) for a in core)
    recheck = z3.Solver(ctx=ctx)
    recheck.set("timeout", max(1, int((timeout_s - (time.perf_counter() - started)) * 1000)))
    recheck.add([a.formula for a in [*hard, *core]])
    verdict = recheck.check()
    if verdict == z3.unsat:
        return {"unsat_core": names, "core_checked": True, "_core": core}
    if verdict == z3.sat:
        return {"unsat_core": [], "core_note": f"Z3's core {names} is satisfiable on its own: not given"}
    return {"unsat_core": names, "core_checked": False, "core_note": "the core was not re-checked in time"}


def _z3_message(exc: Exception, cmd: Command, prefix_lines: int) -> str:
    """Z3's error text, placed at the script's own line, or named after a structured assertion."""
    raw = exc.args[0] if exc.args else str(exc)
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    text = " ".join(text.replace('(error "', "").replace('")', "").split())
    m = _LINE.search(text)
    detail = _LINE.sub("", text).lstrip(": ") if m else text
    if cmd.label is not None:
        return f"SMT-LIB error in assertion '{cmd.label}': {detail}"
    if not m:
        return f"SMT-LIB error at line {cmd.line}: {detail}"
    local = max(1, int(m.group(1)) - prefix_lines)
    column = int(m.group(2)) + (cmd.column if local == 1 else 0)
    return f"SMT-LIB error at line {cmd.line + local - 1}, column {column}: {detail}"

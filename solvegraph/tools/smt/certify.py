"""The ``smt`` certificate's checker: re-checks a sat model or an unsat core with Z3 and, independently, cvc5.

Runs in a fresh sandboxed worker (the smt tool's re-check after each answer, and ``solvegraph verify``),
never where the answer was found, so it imports nothing of the plugin layer. A certificate holds
``script.smt2`` (the assertion set of the last check-sat, flat: declarations, ``assert``s, one
``check-sat``) and its claim: ``sat`` with the model as SMT-LIB ``define-fun`` commands, or ``unsat`` with
the names of the assertions in the core (unnamed assertions always belong to it).

- sat: every declared symbol the model defines is replaced by the model's definition, and the
  assertions must then hold (an evaluation when the model defines every symbol; symbols it leaves out
  are don't-cares, so the solver may pick them).
- unsat: the core's assertions alone must be unsatisfiable.

Each solver gives its own line; the two solvers read the same text, so cvc5 is a second opinion, not a
second reading of Z3's answer. When cvc5 cannot read the script (Z3-only syntax), its line says so and is
``not checked``.
"""

from __future__ import annotations

from typing import Any

from ._script import _NAMED, DECLARATIONS, IGNORED, parse_script, sexprs

CHECK_TIMEOUT_S = 60.0  # without a limit in the certificate's provenance


def check_certificate(certificate: dict[str, Any], options: dict[str, Any] | None = None) -> list[dict[str, str]]:
    """Re-check an ``smt`` certificate with Z3 and cvc5: one line each (see the module docstring).

    A malformed certificate is a ``ValueError`` naming the field.
    """
    status, declarations, assertions, extra = _read(certificate)
    provenance = certificate.get("provenance") or {}
    limit = provenance.get("timeout_s") if isinstance(provenance, dict) else None
    timeout = float(limit) if isinstance(limit, int | float) and 0 < limit <= 3600 else CHECK_TIMEOUT_S
    # Names stay out of what the solvers read: a name may clash with a symbol (the tool tracks with fresh ones).
    script = [*declarations, *(f"(assert {body})" for body, _ in assertions)]
    what, expected = ("model", "sat") if status == "sat" else ("core", "unsat")
    lines = []
    for solver, run in (("z3", _z3), ("cvc5", _cvc5)):
        outcome, detail = run(script, timeout)
        lines.append(_line(solver, what, expected, outcome, detail, extra))
    return lines


def _line(solver: str, what: str, expected: str, outcome: str, detail: str, extra: str) -> dict[str, str]:
    check = f"{solver}: {what}"
    if outcome == "unreadable":
        return {"check": check, "outcome": "not checked", "detail": f"{solver} cannot read the script: {detail}"}
    if outcome == expected:
        text = (
            f"the script's assertions hold with the model's definitions substituted{extra}"
            if what == "model"
            else f"the core's assertions alone are unsatisfiable{extra}"
        )
        return {"check": check, "outcome": "passed", "detail": text}
    if outcome in ("sat", "unsat"):
        text = (
            "the script's assertions are false under the model"
            if what == "model"
            else "the core's assertions alone are satisfiable: they do not conflict"
        )
        return {"check": check, "outcome": "failed", "detail": text}
    return {"check": check, "outcome": "not checked", "detail": f"{solver} did not decide ({detail or outcome})"}


def _read(certificate: dict[str, Any]) -> tuple[str, list[str], list[tuple[str, str | None]], str]:
    """The claim's status, and the script's declarations and assertions to check (the model substituted in
    the declarations for sat, only the core's assertions for unsat), with a note for the passed line."""
    if not isinstance(certificate, dict):
        raise ValueError("certificate: not an object")
    if certificate.get("kind") != "smt":
        raise ValueError(f"kind: {certificate.get('kind')!r} is not an smt certificate")
    artifacts, claim = certificate.get("artifacts"), certificate.get("claim")
    if not isinstance(artifacts, dict) or not isinstance(artifacts.get("script.smt2"), str):
        raise ValueError("artifacts.script.smt2: missing or not text")
    if not isinstance(claim, dict) or claim.get("status") not in ("sat", "unsat"):
        raise ValueError("claim.status: must be 'sat' or 'unsat'")
    try:
        commands = parse_script(artifacts["script.smt2"])
    except ValueError as exc:
        raise ValueError(f"artifacts.script.smt2: {exc}") from None
    declarations: list[tuple[str | None, str, str]] = []  # (declared name, head, text)
    assertions: list[tuple[str, str | None]] = []
    for c in commands:
        if c.head in DECLARATIONS:
            parts = c.body().split(None, 1)
            declarations.append((parts[0] if parts else None, c.head, c.text))
        elif c.head == "assert":
            body, name = c.body(), None
            m = _NAMED.match(body)
            if m:
                body, name = m.group(1).strip(), m.group(2)
            assertions.append((body, name))
        elif c.head not in IGNORED and c.head != "check-sat":
            raise ValueError(f"artifacts.script.smt2: line {c.line}: '{c.head}' has no place in a certificate script")
    if not assertions:
        raise ValueError("artifacts.script.smt2: no assertions")
    if claim["status"] == "unsat":
        core = claim.get("core")
        if not isinstance(core, list) or not all(isinstance(n, str) for n in core):
            raise ValueError("claim.core: must be a list of assertion names")
        names = {n for _, n in assertions if n}
        unknown = sorted(set(core) - names)
        if unknown:
            raise ValueError(f"claim.core: names {', '.join(unknown[:5])}, which the script does not assert")
        kept = [a for a in assertions if a[1] is None or a[1] in core]
        return "unsat", [t for _, _, t in declarations], kept, f" ({len(kept)} of {len(assertions)} assertions)"
    model = claim.get("model")
    if not isinstance(model, dict):
        raise ValueError("claim.model: must map each symbol to its define-fun")
    definitions: dict[str, str] = {}
    for name, text in model.items():
        if not isinstance(text, str):
            raise ValueError(f"claim.model.{name}: not text")
        try:
            found = sexprs(text)
        except ValueError:
            found = []
        parts = found[0][1][1:-1].split(None, 2) if len(found) == 1 else []
        if len(parts) < 3 or parts[0] != "define-fun" or parts[1] != name:
            raise ValueError(f"claim.model.{name}: not one '(define-fun {name} ...)' command")
        definitions[name] = found[0][1]
    declared = {n for n, head, _ in declarations if n and head in ("declare-const", "declare-fun")}
    defined = {n for n, head, _ in declarations if n and head not in ("declare-const", "declare-fun")}
    clash = sorted(set(definitions) & defined)
    if clash:
        raise ValueError(f"claim.model.{clash[0]}: redefines a symbol the script itself defines")
    # Definitions of symbols the script does not declare (Z3's auxiliary functions) come first.
    out = [definitions[n] for n in definitions if n not in declared]
    out += [definitions.get(n, text) if n in declared and n else text for n, _, text in declarations]
    free = sorted(declared - set(definitions))
    extra = " (evaluated: every symbol defined)"
    if free:
        extra = f" ({len(free)} symbol(s) left free: {', '.join(free[:5])})"
    return "sat", out, assertions, extra


def _z3(script: list[str], timeout: float) -> tuple[str, str]:
    import z3

    ctx = z3.Context()
    try:
        formulas = list(z3.parse_smt2_string("\n".join(script), ctx=ctx))
    except z3.Z3Exception as exc:
        raw = exc.args[0] if exc.args else str(exc)
        return "unreadable", " ".join((raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)).split())
    solver = z3.Solver(ctx=ctx)
    solver.set("timeout", max(1, int(timeout * 1000)))
    solver.add(formulas)
    result = solver.check()
    return str(result), "" if result != z3.unknown else solver.reason_unknown()


def _cvc5(script: list[str], timeout: float) -> tuple[str, str]:
    import cvc5

    tm = cvc5.TermManager()
    solver = cvc5.Solver(tm)
    solver.setOption("tlimit-per", str(max(1, int(timeout * 1000))))
    solver.setLogic("ALL")
    symbols = cvc5.SymbolManager(tm)
    parser = cvc5.InputParser(solver, symbols)
    try:
        parser.setStringInput(cvc5.InputLanguage.SMT_LIB_2_6, "\n".join(script), "script.smt2")
        while True:
            command = parser.nextCommand()
            if command.isNull():
                break
            command.invoke(solver, symbols)
    except RuntimeError as exc:
        return "unreadable", " ".join(str(exc).split())[:300]
    result = solver.checkSat()
    if result.isSat():
        return "sat", ""
    if result.isUnsat():
        return "unsat", ""
    return "unknown", str(result.getUnknownExplanation())


def solver_versions() -> dict[str, str]:
    """The versions of the two solvers this checker runs (a certificate's provenance)."""
    import cvc5
    import z3

    return {"z3": z3.get_version_string(), "cvc5": str(getattr(cvc5, "__version__", "unknown"))}

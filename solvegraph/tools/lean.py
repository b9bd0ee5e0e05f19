"""The ``lean`` tool: Lean 4 as the verifier of a proposed proof.

A candidate is written to a temporary file and checked with ``lean --json`` (or
``lake env lean`` inside a Lake project, for Mathlib). Lean's messages come back as
structured diagnostics for the refiner. A proof is accepted only when Lean reports
no error, it uses no ``sorry``/``admit``, it rests on no axiom beyond ``propext``,
``Quot.sound`` and ``Classical.choice`` (checked with ``#print axioms``), and the
theorem's statement is exactly the one that was asked.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..plugins import ToolResult, ToolSession, hookimpl, tool
from ..sandbox import Limits, resolve_sandbox

STANDARD_AXIOMS = frozenset({"propext", "Quot.sound", "Classical.choice"})
_DECL = r"(?:theorem|lemma)\s+{name}(?=[\s(\[{{:])"
_AXIOMS = re.compile(r"'(?P<name>[^']+)' (?:depends on axioms: \[(?P<axioms>[^\]]*)\]|does not depend on any axioms)")


class LeanNotConfigured(Exception):
    pass


@dataclass
class Diagnostic:
    line: int
    column: int
    severity: str
    text: str
    end_line: int | None = None
    end_column: int | None = None

    def render(self) -> str:
        return f"line {self.line}:{self.column} {self.severity}: {self.text}"


@dataclass
class LeanVerdict:
    accepted: bool
    reasons: list[str]
    diagnostics: list[Diagnostic]
    axioms: dict[str, list[str]]
    duration_s: float
    timed_out: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["diagnostics"] = [asdict(d) for d in self.diagnostics]
        return data


def strip_comments(source: str) -> str:
    """Drop ``--`` line comments and nested ``/- -/`` block comments (string literals are rare in proofs)."""
    out, i, depth = [], 0, 0
    while i < len(source):
        if source.startswith("/-", i):
            depth += 1
            i += 2
        elif depth and source.startswith("-/", i):
            depth -= 1
            i += 2
        elif depth:
            i += 1
        elif source.startswith("--", i):
            end = source.find("\n", i)
            i = len(source) if end < 0 else end
        else:
            out.append(source[i])
            i += 1
    return "".join(out)


def theorem_header(source: str, name: str) -> str | None:
    """``theorem NAME binders : type`` up to the top-level ``:=``, whitespace-normalised."""
    text = strip_comments(source)
    m = re.search(_DECL.format(name=re.escape(name)), text)
    if m is None:
        return None
    depth, i = 0, m.start()
    pairs = {"(": 1, "[": 1, "{": 1, "⟨": 1, ")": -1, "]": -1, "}": -1, "⟩": -1}
    while i < len(text):
        ch = text[i]
        depth += pairs.get(ch, 0)
        if depth == 0 and text.startswith(":=", i):
            return " ".join(text[m.start() : i].split()).replace("lemma ", "theorem ", 1)
        i += 1
    return None


def theorem_names(source: str) -> list[str]:
    return re.findall(r"(?:theorem|lemma)\s+([^\s(\[{:]+)", strip_comments(source))


def find_toolchain(options: dict[str, Any]) -> tuple[list[str], str | None]:
    """The command prefix to run Lean, and the working directory (a Lake project, if any)."""
    project = options.get("lean_project") or os.environ.get("SOLVEGRAPH_LEAN_PROJECT")
    if project:
        path = Path(project)
        if not (path / "lakefile.lean").is_file() and not (path / "lakefile.toml").is_file():
            raise LeanNotConfigured(f"lean_project {path} is not a Lake project (no lakefile.lean or lakefile.toml)")
        lake = options.get("lake_path") or shutil.which("lake")
        if not lake:
            raise LeanNotConfigured("lean_project is set but no 'lake' executable was found; set lake_path")
        return [lake, "env", "lean"], str(path)
    lean = options.get("lean_path") or os.environ.get("SOLVEGRAPH_LEAN") or shutil.which("lean")
    if not lean:
        raise LeanNotConfigured(
            "no Lean toolchain: set lean_path (a lean executable) or lean_project (a Lake project, for Mathlib) "
            "in solvegraph.toml, or SOLVEGRAPH_LEAN, or put lean on PATH"
        )
    if not os.access(lean, os.X_OK):
        raise LeanNotConfigured(f"lean_path {lean} is not an executable file")
    return [str(lean)], None


def toolchain_paths(command: list[str], project: str | None) -> list[str]:
    """What Lean needs to see, read-only: its toolchain folder (binary and libraries) and the Lake project."""
    paths = []
    for exe in command[:1]:
        real = Path(exe).resolve()
        # <toolchain>/bin/lean: the whole toolchain (lib/lean holds Init and the shared library).
        paths.append(str(real.parent.parent if real.parent.name == "bin" else real.parent))
    if project:
        paths.append(str(Path(project).resolve()))
        elan = Path.home() / ".elan"
        if elan.is_dir():
            paths.append(str(elan))
    return paths


def check_proof(
    source: str,
    *,
    statement: str | None = None,
    theorem: str | None = None,
    options: dict[str, Any] | None = None,
) -> LeanVerdict:
    """Run Lean on ``source`` and decide, strictly, whether it proves the asked theorem."""
    options = options or {}
    command, cwd = find_toolchain(options)
    timeout = float(options.get("lean_timeout", 60.0))
    memory_mb = int(options.get("lean_memory_mb", 4096))
    reasons: list[str] = []

    names = [theorem] if theorem else theorem_names(statement) if statement else theorem_names(source)
    names = [n for n in names if n]
    if not names:
        reasons.append("no theorem to check: the source declares no theorem or lemma")
    asked = theorem_header(statement, names[0]) if statement and names else None
    if statement and names:
        given = theorem_header(source, names[0])
        if given is None:
            reasons.append(f"the candidate does not contain theorem '{names[0]}'")
        elif asked is not None and given != asked:
            reasons.append(f"the statement of '{names[0]}' was changed: asked `{asked}`, got `{given}`")
    code = strip_comments(source)
    for word in ("sorry", "admit"):
        if re.search(rf"(?<![\w.']){word}(?![\w'])", code):
            reasons.append(f"the proof uses '{word}'")

    with tempfile.TemporaryDirectory(prefix="sg-lean-") as tmp:
        path = Path(tmp) / "Candidate.lean"
        path.write_text(source.rstrip() + "\n\n" + "".join(f"#print axioms {n}\n" for n in names), encoding="utf-8")
        # Lean runs in the sandbox: the toolchain (and a Lake project) read-only, the candidate's folder writable.
        sandbox = resolve_sandbox(str(options.get("sandbox", "auto")))
        run = sandbox.run(
            [*command, "--json", f"--memory={memory_mb}", str(path)],
            workdir=tmp,
            limits=Limits(
                memory_mb=memory_mb + 1024, max_processes=256, output_chars=2_000_000, address_space_limit=False
            ),
            timeout=timeout,
            ro=toolchain_paths(command, cwd),
            cwd=cwd,
        )
        if run.timed_out:
            return LeanVerdict(
                False,
                [*reasons, f"timeout: Lean did not finish within {timeout:g} s"],
                [],
                {},
                run.duration_s,
                timed_out=True,
            )
        stdout, stderr, duration = run.stdout, run.stderr, run.duration_s

    diagnostics, axioms = parse_messages(stdout)
    last_line = source.rstrip().count("\n") + 1
    for d in diagnostics:
        # Past the candidate's end, or tripping on the #print axioms lines we appended.
        if d.line > last_line or "'#print'" in d.text:
            d.line, d.column = min(d.line, last_line), 0 if d.line > last_line else d.column
            d.text += " (at the end of the candidate: the proof or term is unfinished)"
    if run.returncode in (-9, 137) and not any(d.severity == "error" for d in diagnostics):
        # SIGKILL that was not our timeout: the sandbox's memory cap (cgroup OOM) stopped Lean.
        diagnostics.append(
            Diagnostic(0, 0, "error", f"Lean ran out of memory: killed at the sandbox's cap ({memory_mb + 1024} MB)")
        )
    if run.returncode != 0 and not any(d.severity == "error" for d in diagnostics):
        detail = (stderr.strip() or stdout.strip() or f"exit code {run.returncode}").splitlines()[-1][:300]
        diagnostics.append(Diagnostic(0, 0, "error", f"Lean failed: {detail}"))
    errors = [d for d in diagnostics if d.severity == "error"]
    if errors:
        reasons.append(f"Lean reported {len(errors)} error(s); first: {errors[0].render()}")
    if any("declaration uses 'sorry'" in d.text for d in diagnostics):
        reasons.append("Lean reports a declaration that uses 'sorry'")
    for name in names:
        if name not in axioms and not errors:
            reasons.append(f"could not read the axioms of '{name}'")
        extra = sorted(set(axioms.get(name, [])) - STANDARD_AXIOMS)
        if extra:
            reasons.append(f"'{name}' rests on axioms outside the standard ones: {', '.join(extra)}")
    return LeanVerdict(not reasons, reasons, diagnostics, axioms, duration)


def parse_messages(stdout: str) -> tuple[list[Diagnostic], dict[str, list[str]]]:
    diagnostics: list[Diagnostic] = []
    axioms: dict[str, list[str]] = {}
    for line in stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            continue
        text = str(msg.get("data", ""))
        m = _AXIOMS.search(text)
        if m and msg.get("severity") == "information":
            axioms[m.group("name")] = [a.strip() for a in (m.group("axioms") or "").split(",") if a.strip()]
            continue
        pos, end = msg.get("pos") or {}, msg.get("endPos") or {}
        diagnostics.append(
            Diagnostic(
                int(pos.get("line", 0)),
                int(pos.get("column", 0)),
                str(msg.get("severity", "error")),
                text,
                end.get("line"),
                end.get("column"),
            )
        )
    return diagnostics, axioms


PROMPT_HINT = (
    'lean: checks a Lean 4 proof. Pass {"proof": the complete Lean source, "statement": the theorem as asked}. '
    "The statement must stay exactly as asked; no sorry/admit; only standard axioms. Errors come back with line "
    "and column."
)


@tool(name="lean", timeout=None, enforces_timeout=True, prompt_hint=PROMPT_HINT, timeout_option="lean_timeout")
def lean(proof: str, session: ToolSession, statement: str | None = None, theorem: str | None = None) -> ToolResult:
    """Check a Lean 4 proof strictly: no errors, no sorry, standard axioms only, and the asked statement unchanged.

    Args:
        proof: The complete Lean source of the candidate (imports, helper lemmas and the theorem with its proof).
        statement: The theorem as it was asked, e.g. "theorem foo (n : Nat) : n + 0 = n := by sorry".
        theorem: The theorem's name, when no statement is given.
    """
    try:
        verdict = check_proof(proof, statement=statement, theorem=theorem, options=session.options)
    except LeanNotConfigured as exc:
        return ToolResult.failure(str(exc))
    data = verdict.to_dict()
    shown = [d.render() for d in verdict.diagnostics if d.severity in ("error", "warning")][:20]
    if verdict.accepted:
        axioms = "; ".join(f"{n}: {', '.join(a) or 'none'}" for n, a in verdict.axioms.items())
        return ToolResult(True, f"accepted ({verdict.duration_s:.2f} s); axioms: {axioms}\naccepted", data=data)
    return ToolResult(False, "\n".join(shown), "proof rejected: " + "; ".join(verdict.reasons), data=data)


@hookimpl
def solvegraph_tools() -> list:
    return [lean]

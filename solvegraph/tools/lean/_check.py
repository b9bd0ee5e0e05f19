"""Lean 4 as the verifier of a proposed proof: the checker behind the ``lean`` tool.

A candidate is written to a temporary file and checked with ``lean --json`` (or
``lake env lean`` inside a Lake project, for Mathlib). Lean's messages come back as
structured diagnostics for the refiner. A proof is accepted only when Lean reports
no error, it uses no ``sorry``/``admit``, it rests on no axiom beyond ``propext``,
``Quot.sound`` and ``Classical.choice`` (checked with ``#print axioms``), the
theorem's statement is exactly the one that was asked, and the compiled candidate
passes kernel replay where a replay route exists (``_replay``).
"""

from __future__ import annotations

import atexit
import hashlib
import itertools
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ...config import env_setting, tool_sections
from ...plugins._options import build_options
from ...sandbox import Limits, process_dir, resolve_sandbox, scratch_dir
from ._options import LeanOptions
from ._replay import ReplayResult, find_replayer, replay_module, toolchain, within
from ._source import (
    Asked,
    Header,
    LeanSourceError,
    asked_theorems,
    check_candidate,
    commands_at_line_start,
    read_header,
    tokenize,
)

_PLAIN_NAME = re.compile(r"[^\W\d][\w'!?]*(?:\.[^\W\d][\w'!?]*)*")
STANDARD_AXIOMS = frozenset({"propext", "Quot.sound", "Classical.choice"})
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
    # Which checks ran and what each found, and which could not run: the record of how the verdict was reached.
    checks: dict[str, str] = field(default_factory=dict)
    # What a certificate of the verdict needs, structured: the sources Lean read (challenge and candidate),
    # the toolchain, the axioms and the kernel replay's verdict (see check_proof).
    record: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["diagnostics"] = [asdict(d) for d in self.diagnostics]
        return data


def theorem_header(source: str, name: str) -> str | None:
    """``theorem NAME binders : type`` of one theorem of ``source``, whitespace-normalised (read by the lexer)."""
    for a in asked_theorems(source):
        if a.name == name or a.name.endswith("." + name):
            short = a.name.rsplit(".", 1)[-1] if a.name.endswith("." + name) else a.name
            return " ".join(f"theorem {short} {a.binders} : {a.type}".split())
    return None


def theorem_names(source: str) -> list[str]:
    """The names declared by ``theorem``/``lemma`` in ``source``, read with Lean's lexing rules."""
    tokens = tokenize(source)
    return [
        tokens[k + 1].text
        for k, t in enumerate(tokens[:-1])
        if t.kind == "ident" and t.text in ("theorem", "lemma") and tokens[k + 1].kind == "ident"
    ]


def find_toolchain(options: LeanOptions) -> tuple[list[str], str | None]:
    """The command prefix to run Lean, and the working directory (a Lake project, if any)."""
    project = options.project or env_setting("lean_project")
    if project:
        path = Path(project)
        if not (path / "lakefile.lean").is_file() and not (path / "lakefile.toml").is_file():
            raise LeanNotConfigured(f"lean_project {path} is not a Lake project (no lakefile.lean or lakefile.toml)")
        lake = options.lake_path or shutil.which("lake")
        if not lake:
            raise LeanNotConfigured(
                "lean_project is set but no 'lake' executable was found: put lake on PATH, or set lake_path in "
                "[tools.lean] (or --tool-opt lean.lake_path=PATH)"
            )
        return [lake, "env", "lean"], str(path)
    lean = options.lean_path or env_setting("lean_path") or shutil.which("lean")
    if not lean:
        raise LeanNotConfigured(
            "no Lean toolchain: set lean_path (a lean executable) or lean_project (a Lake project, for Mathlib) "
            "in solvegraph.toml, or SOLVEGRAPH_LEAN, or put lean on PATH"
        )
    if not os.access(lean, os.X_OK):
        raise LeanNotConfigured(f"lean_path {lean} is not an executable file")
    return [str(lean)], None


def lean_options(flat: Mapping[str, Any]) -> LeanOptions:
    """The lean plugin's options from a tool session's flat options."""
    return build_options(LeanOptions, tool_sections(flat).get("lean", {}))


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


@dataclass
class _Run:
    ok: bool
    stdout: str
    stderr: str
    returncode: int
    duration_s: float
    timed_out: bool


class _Lean:
    """Lean under the sandbox: a toolchain, the folders it may read, and the limits of one check."""

    def __init__(self, options: LeanOptions, sandbox: str) -> None:
        self.command, self.project = find_toolchain(options)
        self.timeout = options.timeout
        self.memory_mb = options.memory_mb
        self.sandbox = resolve_sandbox(sandbox)
        self.search_path = _project_search_path(self.command, self.project) if self.project else []
        self.replay = options.replay

    def run(self, args: list[str], workdir: str, module_dirs: list[str], timeout: float) -> _Run:
        run = self.sandbox.run(
            [*self.command, f"--memory={self.memory_mb}", *args],
            workdir=workdir,
            limits=Limits(
                memory_mb=self.memory_mb + 1024, max_processes=256, output_chars=2_000_000, address_space_limit=False
            ),
            timeout=timeout,
            ro=[*toolchain_paths(self.command, self.project), *module_dirs],
            cwd=self.project,
            env={"LEAN_PATH": ":".join([*module_dirs, workdir, *self.search_path])},
        )
        return _Run(run.returncode == 0, run.stdout, run.stderr, run.returncode, run.duration_s, run.timed_out)


def _project_search_path(command: list[str], project: str) -> list[str]:
    """The .olean folders of a Lake project (Mathlib's among them), as ``lake env`` would set LEAN_PATH."""
    key = (tuple(command), project)
    if key not in _SEARCH_PATHS:
        proc = subprocess.run(
            [command[0], "env", "printenv", "LEAN_PATH"],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=within(120),
        )
        if proc.returncode != 0:
            raise LeanNotConfigured(f"lake env failed in {project}: {proc.stderr.strip()[:300]}")
        _SEARCH_PATHS[key] = [p for p in proc.stdout.strip().split(":") if p]
    return _SEARCH_PATHS[key]


_SEARCH_PATHS: dict[tuple[tuple[str, ...], str], list[str]] = {}
_CHALLENGES: dict[str, str] = {}  # hash of (toolchain, challenge source) -> folder holding its .olean
_CHALLENGE_LOCK = threading.Lock()
_CACHE_ROOT: list[str] = []


def _cache_dir() -> str:
    if not _CACHE_ROOT:
        root = scratch_dir("sg-lean-challenges-")
        os.chmod(root, 0o755)
        atexit.register(shutil.rmtree, root, True)
        _CACHE_ROOT.append(root)
    return _CACHE_ROOT[0]


def _header_text(header: Header) -> str:
    return ("prelude\n" if header.prelude else "") + "".join(f"import {m}\n" for m in header.imports)


def build_challenge(statement: str, asked: list[Asked]) -> tuple[str, list[str]]:
    """The trusted challenge module: the statement with each asked theorem turned into a proposition.

    ``theorem foo (x : α) : P x := by sorry`` becomes ``def _root_.SolvegraphStatement.s1 : Prop :=
    ∀ (x : α), P x`` in the same place, so it is elaborated with the statement's own definitions,
    ``open``s and namespaces, and nothing the candidate declares can be in scope.
    """
    out, last, names = [], 0, []
    for i, a in enumerate(asked, 1):
        name = f"SolvegraphStatement.s{i}"
        body = f"∀ {a.binders}, {a.type}" if a.binders else a.type
        out += [statement[last : a.start], f"def _root_.{name} : Prop :=\n  {body}\n\n"]
        last = a.end
        names.append(name)
    out.append(statement[last:])
    return "".join(out), names


def check_proof(
    source: str,
    *,
    statement: str | None = None,
    theorem: str | None = None,
    options: Mapping[str, Any] | LeanOptions | None = None,
    sandbox: str | None = None,
    candidate_names: list[str] | None = None,
) -> LeanVerdict:
    """Judge ``source`` as a proof of ``statement`` in three Lean runs, trusting nothing the candidate prints.

    1. The statement is the challenge: solvegraph compiles it (once per process) with every asked
       theorem turned into a proposition.
    2. The candidate is read with Lean's lexing rules and its commands checked against an allowlist,
       then compiled on its own, importing the challenge, in the sandbox.
    3. A check file solvegraph writes imports both and closes each asked proposition with the
       candidate's theorem, so Lean decides that the statements agree, then prints the axioms of
       each check in this run, whose output the candidate cannot reach.
    Without a statement only the candidate's own theorem is checked (``theorem``), which is not a
    check of any asked statement; the verdict says so.

    ``candidate_names`` names the candidate's theorem for each asked one, in order, when they differ
    (a paraphrase of the statement under other names): the check file then closes the i-th asked
    proposition with the i-th of them, so Lean decides whether the two statements agree up to
    definitional equality.

    ``options`` is the lean plugin's typed options, or a tool session's flat options (``lean_path``,
    ``lean_project``, ..., and ``tools`` with a ``lean`` section), as a library caller gives them.
    """
    flat: Mapping[str, Any] = {} if isinstance(options, LeanOptions) else options or {}
    typed = options if isinstance(options, LeanOptions) else lean_options(flat)
    lean_run = _Lean(typed, sandbox or str(flat.get("sandbox") or "auto"))
    checks: dict[str, str] = {}
    started = time.perf_counter()
    chain = toolchain(lean_run.command, lean_run.project)
    record: dict[str, Any] = {
        "statement": statement,
        "challenge_source": None,
        "candidate_source": None,
        "toolchain": {"version": chain.version, "command": lean_run.command, "project": lean_run.project},
        "axioms": {},
        "kernel_replay": None,
        "timings_s": {},
    }

    def verdict(
        reasons: list[str], diagnostics: list[Diagnostic], axioms: dict, timed_out: bool = False
    ) -> LeanVerdict:
        if "kernel_replay" not in checks:
            checks["kernel_replay"] = "not run: the candidate was rejected before it could be replayed"
            record["kernel_replay"] = ReplayResult("not run", checks["kernel_replay"][9:]).to_dict()
        record["axioms"] = axioms
        return LeanVerdict(
            not reasons, reasons, diagnostics, axioms, time.perf_counter() - started, timed_out, checks, record
        )

    try:
        tokens = tokenize(source)
        header = read_header(tokens)
        asked = asked_theorems(statement) if statement else []
        challenge_header = read_header(tokenize(statement)) if statement else header
    except LeanSourceError as exc:
        checks["lexer"] = f"rejected: {exc}"
        return verdict([f"cannot read the source safely: {exc}"], [], {})
    if statement and not asked:
        return verdict(["the statement asks for no theorem"], [], {})
    names = [a.name for a in asked] if statement else [theorem] if theorem else theorem_names(source)
    if not names:
        return verdict(["no theorem to check: the source declares no theorem or lemma"], [], {})
    if statement and candidate_names is not None and len(candidate_names) != len(names):
        return verdict([f"{len(candidate_names)} candidate theorem(s) for {len(names)} asked"], [], {})
    closing = candidate_names if statement and candidate_names is not None else names
    odd = [n for n in closing if not _PLAIN_NAME.fullmatch(n)]
    if odd:  # they are written into the trusted check file
        return verdict([f"not a plain theorem name: {odd[0]!r}"], [], {})

    reasons = check_candidate(tokens, header)
    extra = [m for m in header.imports if m not in challenge_header.imports]
    if extra:
        reasons.append(f"the candidate imports {', '.join(extra)}, which the statement does not")
    if header.prelude != challenge_header.prelude:
        reasons.append("the candidate's header differs from the statement's (prelude)")
    checks["allowlist"] = "passed" if not reasons else "rejected"
    if reasons:
        return verdict(reasons, [], {})

    with tempfile.TemporaryDirectory(prefix="sg-lean-", dir=process_dir()) as tmp:
        deadline = started + lean_run.timeout
        module_dirs: list[str] = []
        body = source[header.end :]
        prefix = _header_text(challenge_header)
        if statement:
            record["challenge_source"] = build_challenge(statement, asked)[0]
            try:
                challenge_dir = _compiled_challenge(lean_run, statement, asked, challenge_header)
            except _ChallengeError as exc:
                checks["challenge"] = f"failed: {exc}"
                return verdict([f"the statement could not be compiled as a challenge: {exc}"], [], {})
            checks["challenge"] = "compiled by solvegraph from the statement"
            module_dirs.append(challenge_dir)
            prefix += "import SolvegraphChallenge\n"
            body = _drop_copies(body, statement, asked)
        cand_dir = Path(tmp) / "candidate"
        cand_dir.mkdir()
        os.chmod(tmp, 0o755)
        # The candidate keeps its line numbers: the new header replaces its own, on as few lines.
        text = prefix + "\n" * max(0, source[: header.end].count("\n") - prefix.count("\n")) + body
        shift = max(0, prefix.count("\n") - source[: header.end].count("\n"))
        (cand_dir / "SolvegraphCandidate.lean").write_text(text, encoding="utf-8")
        record["candidate_source"] = text
        run = lean_run.run(
            ["--json", "-o", str(cand_dir / "SolvegraphCandidate.olean"), str(cand_dir / "SolvegraphCandidate.lean")],
            str(cand_dir),
            module_dirs,
            max(1.0, deadline - time.perf_counter()),
        )
        diagnostics, _ = parse_messages(run.stdout)  # the candidate's own messages: feedback, never evidence
        last_line = source.rstrip().count("\n") + 1
        for d in diagnostics:
            d.line = max(0, d.line - shift)
            if d.line > last_line or "end of input" in d.text:
                d.line, d.column = min(d.line, last_line), 0 if d.line > last_line else d.column
                d.text += " (at the end of the candidate: the proof or term is unfinished)"
        if run.timed_out:
            checks["candidate"] = "timed out"
            return verdict([f"timeout: Lean did not finish within {lean_run.timeout:g} s"], diagnostics, {}, True)
        problem = _failure(run, diagnostics, lean_run.memory_mb)
        if problem or not (cand_dir / "SolvegraphCandidate.olean").is_file():
            checks["candidate"] = "did not compile"
            errors = [d for d in diagnostics if d.severity == "error"]
            first = errors[0].render() if errors else problem or "no .olean was written"
            return verdict([f"Lean reported {max(1, len(errors))} error(s); first: {first}"], diagnostics, {})
        checks["candidate"] = "compiled in the sandbox"
        record["timings_s"]["candidate_compile"] = run.duration_s
        os.chmod(cand_dir, 0o755)
        module_dirs.append(str(cand_dir))
        replayed = _replay(lean_run, module_dirs, tmp, max(1.0, deadline - time.perf_counter()))
        checks["kernel_replay"] = replayed.line()
        record["kernel_replay"] = replayed.to_dict()
        record["timings_s"]["kernel_replay"] = replayed.duration_s
        if replayed.status == "failed":
            return verdict([f"kernel replay rejected the compiled candidate: {replayed.detail}"], diagnostics, {})

        check_dir = Path(tmp) / "check"
        check_dir.mkdir()
        tag = secrets.token_hex(4)
        lines = [_header_text(challenge_header)]
        if statement:
            lines.append("import SolvegraphChallenge\n")
        lines.append("import SolvegraphCandidate\n")
        checked = {}
        for i, (name, closer) in enumerate(zip(names, closing, strict=True), 1):
            check_name = f"SolvegraphCheck{tag}.c{i}"
            if statement:
                lines.append(f"theorem {check_name} : SolvegraphStatement.s{i} := @{closer}\n")
                checked[check_name] = name
            else:
                checked[name] = name
        print_at = {}
        for check_name in checked:
            print_at[sum(x.count("\n") for x in lines) + 1] = check_name
            lines.append(f"#print axioms {check_name}\n")
        (check_dir / "SolvegraphCheck.lean").write_text("".join(lines), encoding="utf-8")
        run = lean_run.run(
            ["--json", str(check_dir / "SolvegraphCheck.lean")],
            str(check_dir),
            module_dirs,
            max(1.0, deadline - time.perf_counter()),
        )
    if run.timed_out:
        checks["statement"] = "timed out"
        return verdict([f"timeout: Lean did not finish within {lean_run.timeout:g} s"], diagnostics, {}, True)
    trusted, axioms_by_line = parse_messages(run.stdout, with_lines=True)
    axioms = {checked[print_at[line]]: found for line, found in axioms_by_line.items() if line in print_at}
    reasons = []
    errors = [d for d in trusted if d.severity == "error"]
    if errors or run.returncode != 0:
        if statement:
            checks["statement"] = "mismatch"
            detail = errors[0].text.splitlines()[0][:300] if errors else f"exit code {run.returncode}"
            reasons.append(f"the candidate does not prove the asked statement of {', '.join(names)}: {detail}")
        else:
            reasons.append(f"the theorem {', '.join(names)} is not in the candidate")
    elif statement:
        checks["statement"] = "matches: Lean closed each asked statement with the candidate's theorem"
    else:
        checks["statement"] = "not checked: no statement was given"
    for name in names:
        if name not in axioms:
            if not reasons:
                reasons.append(f"could not read the axioms of '{name}'")
            continue
        extra_axioms = sorted(set(axioms[name]) - STANDARD_AXIOMS)
        if extra_axioms:
            reasons.append(f"'{name}' rests on axioms outside the standard ones: {', '.join(extra_axioms)}")
    checks["axioms"] = "read in the trusted check run" if axioms else "not read"
    return verdict(reasons, diagnostics, axioms)


def _replay(lean_run: _Lean, module_dirs: list[str], tmp: str, timeout: float) -> ReplayResult:
    """Kernel replay of the compiled candidate in its own sandboxed process (never where the candidate ran)."""
    if not lean_run.replay:
        return ReplayResult("not run", "turned off (replay = false in [tools.lean])")
    route = find_replayer(lean_run.command, lean_run.project)
    if isinstance(route, str):
        return ReplayResult("not run", route)
    work = Path(tmp) / "replay"
    work.mkdir()
    return replay_module(
        lean_run.sandbox,
        route,
        "SolvegraphCandidate",
        module_dirs=module_dirs,
        search_path=lean_run.search_path,
        workdir=str(work),
        timeout=timeout,
        memory_mb=lean_run.memory_mb,
        cwd=lean_run.project,
        ro=toolchain_paths(lean_run.command, lean_run.project) if lean_run.project else [],
    )


class _ChallengeError(Exception):
    pass


def _compiled_challenge(lean_run: _Lean, statement: str, asked: list[Asked], header: Header) -> str:
    """The folder holding SolvegraphChallenge.olean for this statement, compiled once per process."""
    source, _ = build_challenge(statement, asked)
    key = hashlib.sha256(json.dumps([lean_run.command, lean_run.project, source]).encode()).hexdigest()
    with _CHALLENGE_LOCK:
        if key in _CHALLENGES:
            return _CHALLENGES[key]
    folder = Path(_cache_dir()) / key[:24]
    build = Path(scratch_dir("sg-lean-challenge-"))
    try:
        (build / "SolvegraphChallenge.lean").write_text(source, encoding="utf-8")
        run = lean_run.run(
            ["--json", "-o", str(build / "SolvegraphChallenge.olean"), str(build / "SolvegraphChallenge.lean")],
            str(build),
            [],
            lean_run.timeout,
        )
        diagnostics, _ = parse_messages(run.stdout)
        errors = [d for d in diagnostics if d.severity == "error"]
        if run.timed_out or errors or run.returncode != 0 or not (build / "SolvegraphChallenge.olean").is_file():
            detail = errors[0].render() if errors else "timed out" if run.timed_out else f"exit {run.returncode}"
            raise _ChallengeError(detail)
        folder.mkdir(exist_ok=True)
        os.chmod(folder, 0o755)
        target = folder / "SolvegraphChallenge.olean"
        shutil.copyfile(build / "SolvegraphChallenge.olean", target)
        os.chmod(target, 0o644)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    with _CHALLENGE_LOCK:
        _CHALLENGES[key] = str(folder)
    return str(folder)


def _drop_copies(body: str, statement: str, asked: list[Asked]) -> str:
    """Blank out the candidate's verbatim copies of the statement's declarations (they come from the challenge).

    A candidate often repeats the statement's definitions; they would clash with the imported ones.
    Only exact copies are dropped (token for token); anything else stays and Lean judges it.
    """
    stmt_tokens = tokenize(statement)
    spans = []
    starts = [*commands_at_line_start(statement, stmt_tokens), len(stmt_tokens)]
    asked_starts = {a.start for a in asked}
    for a, b in itertools.pairwise(starts):
        if stmt_tokens[a].text in ("open", "namespace", "section", "end", "set_option", "universe"):
            continue
        if stmt_tokens[a].start in asked_starts:
            continue
        spans.append(tuple(t.text for t in stmt_tokens[a:b]))
    wanted = set(spans)
    if not wanted:
        return body
    tokens = tokenize(body)
    cand_starts = [*commands_at_line_start(body, tokens), len(tokens)]
    out, last = [], 0
    for a, b in itertools.pairwise(cand_starts):
        if tuple(t.text for t in tokens[a:b]) in wanted:
            end = tokens[b].start if b < len(tokens) else len(body)
            out += [body[last : tokens[a].start], re.sub(r"[^\n]", " ", body[tokens[a].start : end])]
            last = end
    out.append(body[last:])
    return "".join(out)


def _failure(run: _Run, diagnostics: list[Diagnostic], memory_mb: int) -> str | None:
    """Why a Lean run failed when its messages do not say (out of memory, a crash), else None."""
    if run.returncode in (-9, 137) and not any(d.severity == "error" for d in diagnostics):
        # SIGKILL that was not our timeout: the sandbox's memory cap (cgroup OOM) stopped Lean.
        text = f"Lean ran out of memory: killed at the sandbox's cap ({memory_mb + 1024} MB)"
        diagnostics.append(Diagnostic(0, 0, "error", text))
        return text
    if run.returncode != 0 and not any(d.severity == "error" for d in diagnostics):
        detail = (run.stderr.strip() or run.stdout.strip() or f"exit code {run.returncode}").splitlines()[-1][:300]
        diagnostics.append(Diagnostic(0, 0, "error", f"Lean failed: {detail}"))
        return detail
    return None


def parse_messages(stdout: str, with_lines: bool = False) -> tuple[list[Diagnostic], dict[Any, list[str]]]:
    """Lean's JSON messages as diagnostics, and the ``#print axioms`` answers (by name, or by line)."""
    diagnostics: list[Diagnostic] = []
    axioms: dict[Any, list[str]] = {}
    for line in stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            continue
        text = str(msg.get("data", ""))
        pos, end = msg.get("pos") or {}, msg.get("endPos") or {}
        m = _AXIOMS.fullmatch(text.strip())
        if m and msg.get("severity") == "information":
            found = [a.strip() for a in (m.group("axioms") or "").split(",") if a.strip()]
            axioms[int(pos.get("line", 0)) if with_lines else m.group("name")] = found
            continue
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

"""Reading Lean 4 source the way Lean's lexer does, to judge a candidate proof before Lean runs it.

A regex over the text is fooled by what Lean skips or keeps: a theorem inside a string, a
``--`` inside a string that hides the rest of the line from a naive comment stripper, a doc
comment, nested block comments, ``«»`` names. This lexer follows Lean's rules for those, so
the allowlist below sees exactly the tokens Lean will see. It does not parse terms: it finds
commands, names and brackets, which is all the judge needs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


class LeanSourceError(ValueError):
    """The source cannot be read safely (an unterminated string or comment, an unsupported literal)."""


@dataclass(frozen=True)
class Token:
    kind: str  # ident | string | char | number | hash | symbol
    text: str
    line: int
    column: int
    start: int
    end: int


_NUMBER = re.compile(r"0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|[0-9][0-9_]*(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_SYMBOLS = (":=", "@[", "=>", "..", "⟨", "⟩", "(", ")", "[", "]", "{", "}", "⦃", "⦄")


def _ident_start(ch: str) -> bool:
    return ch.isalpha() or ch == "_" or ch == "«"


def _ident_rest(ch: str) -> bool:
    return ch.isalnum() or ch in "_'!?" or (0x2080 <= ord(ch) <= 0x209C) or ch in "ᵢᵣᵤᵥᵦᵧᵨᵩᵪ"


def tokenize(source: str) -> list[Token]:
    """Lean's tokens of ``source``, without comments; strings and char literals are single tokens."""
    tokens: list[Token] = []
    i, n, line, line_start = 0, len(source), 1, 0

    def position(at: int) -> tuple[int, int]:
        return line, at - line_start

    def advance(to: int) -> None:
        nonlocal i, line, line_start
        newlines = source.count("\n", i, to)
        if newlines:
            line += newlines
            line_start = source.rfind("\n", i, to) + 1
        i = to

    while i < n:
        ch = source[i]
        if ch.isspace():
            advance(i + 1)
            continue
        if source.startswith("--", i):
            end = source.find("\n", i)
            advance(n if end < 0 else end)
            continue
        if source.startswith("/-", i):  # block, doc (/--) and module doc (/-!) comments nest
            depth, j = 1, i + 2
            while j < n and depth:
                if source.startswith("/-", j):
                    depth, j = depth + 1, j + 2
                elif source.startswith("-/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            if depth:
                raise LeanSourceError(f"line {line}: a comment opened here is never closed")
            advance(j)
            continue
        ln, col = position(i)
        if ch == '"':
            j = i + 1
            while j < n and source[j] != '"':
                j += 2 if source[j] == "\\" else 1
            if j >= n:
                raise LeanSourceError(f"line {ln}: a string opened here is never closed")
            tokens.append(Token("string", source[i : j + 1], ln, col, i, j + 1))
            advance(j + 1)
            continue
        m = re.match(r'r(#*)"', source[i:]) if ch == "r" else None
        if m:  # raw string r#"..."#
            close = '"' + m.group(1)
            j = source.find(close, i + len(m.group(0)))
            if j < 0:
                raise LeanSourceError(f"line {ln}: a raw string opened here is never closed")
            tokens.append(Token("string", source[i : j + len(close)], ln, col, i, j + len(close)))
            advance(j + len(close))
            continue
        if ch == "'" and i + 2 < n:
            quote_end: int | None = None
            if source[i + 1] == "\\":
                k = source.find("'", i + 2)
                quote_end = k if 0 < k <= i + 12 else None
            elif source[i + 2] == "'" and source[i + 1] != "\n":
                quote_end = i + 2
            if quote_end is not None:
                tokens.append(Token("char", source[i : quote_end + 1], ln, col, i, quote_end + 1))
                advance(quote_end + 1)
                continue
        if _ident_start(ch):
            j = i
            while True:  # dotted name: parts are plain or «guillemet» names
                if j < n and source[j] == "«":
                    k = source.find("»", j + 1)
                    if k < 0:
                        raise LeanSourceError(f"line {ln}: a «name» opened here is never closed")
                    j = k + 1
                elif j < n and _ident_start(source[j]):
                    j += 1
                    while j < n and _ident_rest(source[j]):
                        j += 1
                else:
                    break
                if j + 1 < n and source[j] == "." and (_ident_start(source[j + 1])):
                    j += 1
                    continue
                break
            text = source[i:j]
            if j < n and source[j] == '"' and text.endswith("!"):
                raise LeanSourceError(f'line {ln}: interpolated strings ({text}"...") are not accepted in a candidate')
            tokens.append(Token("ident", text, ln, col, i, j))
            advance(j)
            continue
        if ch.isdigit():
            m = re.match(
                r"0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|[0-9][0-9_]*(\.[0-9]+)?([eE][-+]?[0-9]+)?", source[i:]
            )
            assert m is not None
            tokens.append(Token("number", m.group(0), ln, col, i, i + m.end()))
            advance(i + m.end())
            continue
        if ch == "#" and i + 1 < n and source[i + 1].isalpha():
            j = i + 1
            while j < n and (source[j].isalnum() or source[j] in "_"):
                j += 1
            tokens.append(Token("hash", source[i:j], ln, col, i, j))
            advance(j)
            continue
        sym = next((s for s in _SYMBOLS if source.startswith(s, i)), ch)
        tokens.append(Token("symbol", sym, ln, col, i, i + len(sym)))
        advance(i + len(sym))
    return tokens


# Words that start a command (or modify one) at the beginning of a line.
COMMAND_WORDS = frozenset(
    {
        "theorem", "lemma", "def", "abbrev", "instance", "example", "inductive", "structure", "class",
        "axiom", "opaque", "open", "namespace", "section", "end", "universe", "universes", "variable",
        "set_option", "attribute", "mutual", "noncomputable", "private", "protected", "unsafe", "partial",
        "@[", "macro", "macro_rules", "syntax", "elab", "notation", "infix", "infixl", "infixr", "prefix",
        "postfix", "deriving", "export", "include", "omit", "initialize", "builtin_initialize", "run_cmd",
        "import", "prelude", "scoped", "local", "public", "meta", "module",
    }
)  # fmt: skip

# Never in a candidate: each can bypass the kernel, run code while it compiles, change the
# statement without changing its text, or add an assumption.
BANNED = {
    "unsafe": "unsafe declarations are not checked by the kernel",
    "partial": "partial definitions are opaque to the kernel",
    "opaque": "opaque constants are assumptions the kernel cannot look into",
    "implemented_by": "implemented_by swaps in code the kernel never checks",
    "extern": "extern swaps in code the kernel never checks",
    "axiom": "a candidate may not add axioms",
    "variable": "variable can add hypotheses to the statement without changing its text",
    "include": "include can add hypotheses to the statement without changing its text",
    "omit": "omit changes which section variables a statement takes",
    "macro": "new syntax can make the text mean something else",
    "macro_rules": "new syntax can make the text mean something else",
    "syntax": "new syntax can make the text mean something else",
    "elab": "a custom elaborator runs code while compiling",
    "elab_rules": "a custom elaborator runs code while compiling",
    "notation": "new notation can make the text mean something else",
    "infix": "new notation can make the text mean something else",
    "infixl": "new notation can make the text mean something else",
    "infixr": "new notation can make the text mean something else",
    "prefix": "new notation can make the text mean something else",
    "postfix": "new notation can make the text mean something else",
    "declare_syntax_cat": "new syntax can make the text mean something else",
    "run_cmd": "run_cmd runs code while compiling",
    "run_elab": "run_elab runs code while compiling",
    "run_meta": "run_meta runs code while compiling",
    "run_tac": "run_tac runs code while compiling",
    "by_elab": "by_elab runs code while compiling",
    "simproc": "a simproc runs code while compiling",
    "dsimproc": "a simproc runs code while compiling",
    "initialize": "initialize runs code when the module is imported",
    "builtin_initialize": "initialize runs code when the module is imported",
    "init": "an init attribute runs code when the module is imported",
    "export": "export adds aliases that change how names resolve",
    "meta": "meta code runs while compiling",
    "module": "the module system header is not accepted in a candidate",
    "import": "imports belong in the header, and only the statement's own",
    "prelude": "prelude belongs in the header",
}
# Attributes a proof may use: each tags a theorem or definition for existing tactics (simp sets,
# instances, reducibility), none registers code. Any other is refused, because an attribute such as
# command_elab, term_elab, tactic, delab or a norm_num/positivity extension makes Lean run the
# candidate's own functions later, in the trusted check run that imports it.
ALLOWED_ATTRIBUTES = frozenset(
    {
        "simp", "reducible", "irreducible", "semireducible", "instance", "inline", "noinline", "specialize",
        "ext", "simps", "norm_cast", "push_cast", "symm", "refl", "trans", "congr", "gcongr", "mono",
        "elab_as_elim", "match_pattern", "induction_eliminator", "cases_eliminator", "nolint", "deprecated",
        "grind", "local", "scoped", "default_instance", "coe", "fun_prop", "continuity", "measurability",
    }
)  # fmt: skip
ALLOWED_OPTIONS = frozenset({"maxHeartbeats", "maxRecDepth", "synthInstance.maxHeartbeats", "synthInstance.maxSize"})
ALLOWED_OPTION_PREFIXES = ("linter.",)


@dataclass
class Header:
    prelude: bool = False
    imports: list[str] = field(default_factory=list)
    end: int = 0  # offset just after the header
    tokens_after: int = 0  # index of the first token after it


def read_header(tokens: list[Token]) -> Header:
    """``prelude`` and ``import M`` lines at the top of a file."""
    header, k = Header(), 0
    if k < len(tokens) and tokens[k].text == "prelude":
        header.prelude, header.end, k = True, tokens[k].end, k + 1
    while k + 1 < len(tokens) and tokens[k].text == "import" and tokens[k + 1].kind == "ident":
        header.imports.append(tokens[k + 1].text)
        header.end, k = tokens[k + 1].end, k + 2
    header.tokens_after = k
    return header


def check_candidate(tokens: list[Token], header: Header) -> list[str]:
    """Why the candidate's commands are not acceptable (each reason names its line); empty when they are."""
    reasons: list[str] = []
    scopes: list[tuple[str, str, int]] = []
    body = tokens[header.tokens_after :]
    for k, tok in enumerate(body):
        if tok.kind == "hash":
            reasons.append(f"line {tok.line}: '{tok.text}' is not accepted in a candidate (commands that run or stop)")
        elif tok.kind != "ident":
            continue
        elif tok.text in BANNED:
            reasons.append(f"line {tok.line}: '{tok.text}' is not accepted: {BANNED[tok.text]}")
        elif tok.text in ("sorry", "admit"):
            reasons.append(f"line {tok.line}: the proof uses '{tok.text}'")
        elif tok.text == "set_option":
            name = body[k + 1].text if k + 1 < len(body) else ""
            if name not in ALLOWED_OPTIONS and not name.startswith(ALLOWED_OPTION_PREFIXES):
                reasons.append(
                    f"line {tok.line}: set_option {name} is not accepted "
                    f"(allowed: {', '.join(sorted(ALLOWED_OPTIONS))}, linter.*)"
                )
        elif tok.text in ("namespace", "section", "mutual"):
            nxt = body[k + 1] if k + 1 < len(body) else None
            named = tok.text == "namespace" or (
                tok.text == "section" and nxt is not None and nxt.kind == "ident" and nxt.line == tok.line
            )
            scopes.append((tok.text, nxt.text if named and nxt else "", tok.line))
        elif tok.text == "end":
            if not scopes:
                reasons.append(f"line {tok.line}: 'end' closes nothing")
            else:
                scopes.pop()
    for kind, name, line in scopes:
        reasons.append(f"line {line}: {kind} {name} is never closed".replace("  ", " "))
    for tok in attribute_names(body):
        if tok.text not in ALLOWED_ATTRIBUTES and tok.text not in BANNED:  # BANNED ones are reported above
            reasons.append(
                f"line {tok.line}: attribute '{tok.text}' is not accepted: it may register the candidate's "
                "code with Lean; only attributes that tag lemmas and definitions are (simp, instance, ext, ...)"
            )
    return reasons


def attribute_names(tokens: list[Token]) -> list[Token]:
    """The name of every attribute in ``@[...]`` and ``attribute [...]``: the first word of each entry,
    after ``local``/``scoped``/``-`` (``@[simp, local instance 100]`` gives simp and instance)."""
    names: list[Token] = []
    for k, tok in enumerate(tokens):
        opens = tok.text == "@[" or (
            tok.kind == "ident" and tok.text == "attribute" and k + 1 < len(tokens) and tokens[k + 1].text == "["
        )
        if not opens:
            continue
        j, depth, expect_name = k + (1 if tok.text == "@[" else 2), 0, True
        while j < len(tokens):
            t = tokens[j]
            if t.text in ("[", "(", "{", "@["):
                depth += 1
            elif t.text in ("]", ")", "}"):
                if depth == 0:
                    break
                depth -= 1
            elif depth == 0 and t.text == ",":
                expect_name = True
            elif expect_name and depth == 0 and t.text not in ("local", "scoped", "-"):
                names.append(t)
                expect_name = False
            j += 1
    return names


@dataclass
class Asked:
    """A theorem of the statement: its full name, binders and type, as source text, and its span."""

    name: str
    binders: str
    type: str
    start: int
    end: int


def commands_at_line_start(source: str, tokens: list[Token]) -> list[int]:
    """Indices of tokens that begin a command: a command word first on its line, at column 0."""
    return [k for k, t in enumerate(tokens) if t.column == 0 and t.text in COMMAND_WORDS]


def asked_theorems(source: str) -> list[Asked]:
    """Every theorem (and lemma) the statement asks for, with its namespace, binders and type."""
    tokens = tokenize(source)
    starts = commands_at_line_start(source, tokens)
    asked: list[Asked] = []
    namespaces: list[str] = []
    for k, tok in enumerate(tokens):
        if tok.kind != "ident":
            continue
        if tok.text == "namespace" and k + 1 < len(tokens):
            namespaces.append(tokens[k + 1].text)
        elif tok.text == "section":
            namespaces.append("")
        elif tok.text == "end" and namespaces:
            namespaces.pop()
        elif tok.text in ("theorem", "lemma") and k + 1 < len(tokens):
            name_tok = tokens[k + 1]
            depth, colon, assign = 0, None, None
            for j in range(k + 2, len(tokens)):
                t = tokens[j].text
                if t in ("(", "[", "{", "⦃", "⟨"):
                    depth += 1
                elif t in (")", "]", "}", "⦄", "⟩"):
                    depth -= 1
                elif depth == 0 and t == ":" and colon is None:
                    colon = j
                elif depth == 0 and t == ":=":
                    assign = j
                    break
            if colon is None or assign is None:
                raise LeanSourceError(f"line {tok.line}: cannot read the statement of '{name_tok.text}'")
            nxt = next((s for s in starts if s > assign), None)
            end = tokens[nxt].start if nxt is not None else len(source)
            start = tok.start
            # Modifiers and attributes on the theorem's own line belong to it.
            prev = [s for s in starts if s < k and tokens[s].line == tok.line]
            if prev:
                start = tokens[prev[0]].start
            prefix = ".".join(n for n in namespaces if n)
            asked.append(
                Asked(
                    name=f"{prefix}.{name_tok.text}" if prefix else name_tok.text,
                    binders=source[name_tok.end : tokens[colon].start].strip(),
                    type=source[tokens[colon].end : tokens[assign].start].strip(),
                    start=start,
                    end=end,
                )
            )
    return asked

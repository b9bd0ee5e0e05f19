"""Tool calls written in the content, in the dialects open models use when the server has no tool parser.

A llama.cpp, Ollama or vLLM server started without a tool-call parser returns the model's calls as text:

- ``hermes`` (Hermes, Qwen2.5, Qwen3): ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``, one block
  per call;
- ``llama`` (Llama 3.x): ``<|python_tag|>`` then a JSON call, or Python for the built-in code interpreter; or
  a bare ``{"name": ..., "parameters": {...}}`` as the whole reply;
- ``mistral``: ``[TOOL_CALLS][{"name": ..., "arguments": {...}}, ...]``, or ``[TOOL_CALLS]name[ARGS]{...}``
  (the v11 tokenizer);
- ``fenced``: solvegraph's own ``tool`` fenced block holding ``{"name": ..., "arguments": {...}}``.

Parsing is strict. A call is run only when its JSON is complete and is an object with a name and object
arguments; anything else (a block that never closes, JSON cut short, a call split over two blocks) is an
error message the model is shown on its next turn, never a guess at what it meant.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from ..types import ToolCall

# The dialects read from the content, in the order ``auto`` tries them.
CONTENT_DIALECTS = ("hermes", "mistral", "llama", "fenced")
# What ``tool_mode`` accepts: these, ``native`` (OpenAI tool calls only), ``auto``, and ``text`` (= fenced).
TOOL_MODES = ("auto", "native", "text", *CONTENT_DIALECTS)


@dataclass
class Parsed:
    """The calls found in one reply's content, the errors the model must see, and the content without them."""

    dialect: str = ""  # the dialect whose markup was found ("" when none was)
    calls: list[ToolCall] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    text: str = ""  # the content with the calls' markup taken out


_HERMES = re.compile(r"<tool_call>(.*?)</tool_call>", re.S)
_HERMES_OPEN = re.compile(r"<tool_call>")
_PYTHON_TAG = "<|python_tag|>"
_LLAMA_END = re.compile(r"<\|(?:eom_id|eot_id)\|>")
_MISTRAL = "[TOOL_CALLS]"
_MISTRAL_V11 = re.compile(r"\s*([A-Za-z0-9_.-]+)\[ARGS\]")
_FENCE = re.compile(r"```[ \t]*tool[ \t]*\n(.*?)```", re.S | re.I)
_FENCE_OPEN = re.compile(r"```[ \t]*tool[ \t]*\n", re.I)


def parse_calls(text: str, dialect: str) -> Parsed:
    """The calls of ``dialect`` in ``text`` (an empty :class:`Parsed` with the text when it has none)."""
    parser = _PARSERS.get(dialect)
    if parser is None:
        return Parsed(text=text)
    found = parser(text)
    if found.dialect:
        for i, call in enumerate(found.calls):
            call.id = f"{dialect}_{hashlib.sha256(f'{i}:{text}'.encode()).hexdigest()[:8]}"
    return found


def detect(text: str) -> Parsed:
    """The first dialect whose markup is in ``text``, parsed (``auto`` before the endpoint's dialect is known)."""
    for dialect in CONTENT_DIALECTS:
        found = parse_calls(text, dialect)
        if found.dialect:
            return found
    return Parsed(text=text)


def _call(data: Any, where: str, args_key: tuple[str, ...] = ("arguments", "parameters")) -> ToolCall | str:
    """A call from a decoded JSON value, or the error the model is told."""
    if not isinstance(data, dict):
        return f"{where} must be a JSON object with a name and arguments, not {type(data).__name__}"
    inner = data.get("function")
    fn: dict[str, Any] = inner if isinstance(inner, dict) else data
    name = fn.get("name")
    if not isinstance(name, str) or not name.strip():
        return f'{where} has no "name"'
    args: Any = next((fn[k] for k in args_key if k in fn), {})
    if isinstance(args, str):  # some models write the arguments as a JSON string, as the OpenAI API does
        try:
            args = json.loads(args)
        except json.JSONDecodeError as exc:
            return f"{where} ({name}): its arguments string is not valid JSON: {exc.msg} at character {exc.pos}"
    if not isinstance(args, dict):
        return f"{where} ({name}): its arguments must be a JSON object"
    return ToolCall(id="", name=name.strip(), arguments=args)


def _decode(body: str, where: str) -> Any:
    """One complete JSON value, the whole of ``body``; raises ValueError with the message the model sees."""
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        short = exc.pos >= len(body.rstrip()) or exc.msg.startswith("Unterminated")
        cut = " (it ends before the JSON does: cut short?)" if short else ""
        raise ValueError(f"{where} is not valid JSON: {exc.msg} at character {exc.pos}{cut}") from None


def _add(found: Parsed, data: Any, where: str) -> None:
    call = _call(data, where)
    if isinstance(call, str):
        found.errors.append(call)
    else:
        found.calls.append(call)


def _hermes(text: str) -> Parsed:
    if "<tool_call>" not in text:
        return Parsed(text=text)
    found = Parsed(dialect="hermes")
    for i, body in enumerate(_HERMES.findall(text), 1):
        try:
            _add(found, _decode(body.strip(), f"<tool_call> block {i}"), f"<tool_call> block {i}")
        except ValueError as exc:
            found.errors.append(str(exc))
    rest = _HERMES.sub("", text)
    opened = _HERMES_OPEN.search(rest)
    if opened:
        found.errors.append("the model's reply had an unterminated <tool_call> (no </tool_call>); it was not run")
        rest = rest[: opened.start()]
    found.text = rest.strip()
    return found


def _llama(text: str) -> Parsed:
    stripped = text.strip()
    if _PYTHON_TAG in text:
        before, _, after = text.partition(_PYTHON_TAG)
        found = Parsed(dialect="llama", text=before.strip())
        body = _LLAMA_END.split(after, maxsplit=1)[0].strip()
        if not body:
            found.errors.append("the model's reply had <|python_tag|> with nothing after it")
        elif body.startswith("{"):
            _llama_json(body, found)
        else:  # Llama's built-in code interpreter: the rest is Python
            found.calls.append(ToolCall(id="", name="python", arguments={"code": body}))
        return found
    # The bare form: the whole reply is one call (Llama 3.2 with the JSON tool-calling prompt).
    if stripped.startswith("{") and re.match(r'\{\s*"(?:name|type|function)"', stripped):
        found = Parsed(dialect="llama")
        _llama_json(stripped, found)
        return found
    return Parsed(text=text)


def _llama_json(body: str, found: Parsed) -> None:
    """One JSON call, or several separated by ``;`` (Llama 3.2 writes them so)."""
    decoder = json.JSONDecoder()
    pos, i = 0, 0
    while pos < len(body):
        i += 1
        try:
            data, end = decoder.raw_decode(body, pos)
        except json.JSONDecodeError as exc:
            short = exc.pos >= len(body) or exc.msg.startswith("Unterminated")
            cut = " (it ends before the JSON does: cut short?)" if short else ""
            found.errors.append(f"the model's JSON tool call {i} is not valid JSON: {exc.msg}{cut}")
            return
        _add(found, data, f"the JSON tool call {i}")
        pos = end
        while pos < len(body) and body[pos] in " \t\r\n;":
            pos += 1


def _mistral(text: str) -> Parsed:
    if _MISTRAL not in text:
        return Parsed(text=text)
    before, _, after = text.partition(_MISTRAL)
    found = Parsed(dialect="mistral", text=before.strip())
    chunks = after.split(_MISTRAL)
    for i, chunk in enumerate(chunks, 1):
        where = f"[TOOL_CALLS] {i}"
        if not chunk.strip():
            continue
        v11 = _MISTRAL_V11.match(chunk)
        try:
            if v11:  # name[ARGS]{...}
                args = _decode(chunk[v11.end() :].strip(), where)
                _add(found, {"name": v11.group(1), "arguments": args}, where)
                continue
            data = _decode(chunk.strip(), where)
        except ValueError as exc:
            found.errors.append(str(exc))
            continue
        for item in data if isinstance(data, list) else [data]:
            _add(found, item, where)
    if not found.calls and not found.errors:
        found.errors.append("the model's reply had [TOOL_CALLS] with no call after it")
    return found


def _fenced(text: str) -> Parsed:
    if not _FENCE_OPEN.search(text):
        return Parsed(text=text)
    found = Parsed(dialect="fenced")
    for i, body in enumerate(_FENCE.findall(text), 1):
        try:
            _add(found, _decode(body.strip(), f"the tool block {i}"), f"the tool block {i}")
        except ValueError as exc:
            found.errors.append(str(exc))
    rest = _FENCE.sub("", text)
    opened = _FENCE_OPEN.search(rest)
    if opened:
        found.errors.append("the model's reply had an unterminated ```tool block (no closing ```); it was not run")
        rest = rest[: opened.start()]
    found.text = rest.strip()
    return found


_PARSERS = {"hermes": _hermes, "llama": _llama, "mistral": _mistral, "fenced": _fenced, "text": _fenced}

"""Reading replies as open models write them: reasoning kept apart, calls in the content, cut-off replies.

Parsers are checked on their own; the client is checked over real HTTP against the scripted endpoint.
"""

from __future__ import annotations

import json

import pytest

from solvegraph.llm import ModelClient, parse_calls, split_reasoning
from solvegraph.llm._dialects import detect

PY = [{"type": "function", "function": {"name": "python", "parameters": {"type": "object"}}}]
ASK = [{"role": "user", "content": "What is 6*7?"}]


def test_think_blocks_are_taken_out_of_the_content_whatever_their_shape() -> None:
    split = split_reasoning("<think>draft ANSWER: 999</think>\n\nANSWER: 42")
    assert (split.text, split.reasoning, split.unterminated) == ("ANSWER: 42", "draft ANSWER: 999", False)
    # The prompt opened the block (R1's template): only the closing tag is in the reply.
    assert split_reasoning("draft\n</think>\nANSWER: 42").text == "ANSWER: 42"
    split = split_reasoning("<THINKING>a</thinking>b<think>c</think>d", field="server's")
    assert (split.text, split.reasoning) == ("bd", "server's\n\na\n\nc")


def test_an_unterminated_block_is_no_answer() -> None:
    split = split_reasoning("<think>so the answer is\nANSWER: 999")
    assert split.unterminated and split.text == "" and "ANSWER: 999" in split.reasoning


@pytest.mark.parametrize(
    ("dialect", "text"),
    [
        ("hermes", '<tool_call>\n{"name": "python", "arguments": {"code": "print(1)"}}\n</tool_call>'),
        ("hermes", '<tool_call>{"name": "python", "arguments": "{\\"code\\": \\"print(1)\\"}"}</tool_call>'),
        ("llama", '<|python_tag|>{"name": "python", "parameters": {"code": "print(1)"}}<|eom_id|>'),
        ("llama", '{"name": "python", "parameters": {"code": "print(1)"}}'),
        ("llama", "<|python_tag|>print(1)"),
        ("mistral", '[TOOL_CALLS][{"name": "python", "arguments": {"code": "print(1)"}}]'),
        ("mistral", '[TOOL_CALLS]python[ARGS]{"code": "print(1)"}'),
        ("fenced", '```tool\n{"name": "python", "arguments": {"code": "print(1)"}}\n```'),
    ],
)
def test_each_dialect_is_read_and_detected(dialect: str, text: str) -> None:
    for parsed in (parse_calls(text, dialect), detect(text)):
        assert parsed.dialect == dialect and not parsed.errors
        assert [(c.name, c.arguments) for c in parsed.calls] == [("python", {"code": "print(1)"})]


def test_calls_split_across_blocks() -> None:
    two = (
        'I will set x.\n<tool_call>{"name": "python", "arguments": {"code": "x = 6"}}</tool_call>\n'
        'Then print it.\n<tool_call>{"name": "python", "arguments": {"code": "print(x * 7)"}}</tool_call>'
    )
    parsed = parse_calls(two, "hermes")
    assert [c.arguments["code"] for c in parsed.calls] == ["x = 6", "print(x * 7)"]
    assert parsed.text == "I will set x.\n\nThen print it." and len({c.id for c in parsed.calls}) == 2
    # One call's JSON split over two blocks: neither half is a call, both are errors.
    halves = '<tool_call>{"name": "python", "arguments": {"code": </tool_call><tool_call>"print(1)"}}</tool_call>'
    parsed = parse_calls(halves, "hermes")
    assert parsed.calls == [] and len(parsed.errors) == 2 and "not valid JSON" in parsed.errors[0]


@pytest.mark.parametrize(
    ("dialect", "text", "says"),
    [
        ("hermes", '<tool_call>{"name": "python", "arguments": {"code": "print(1)"}}', "unterminated <tool_call>"),
        ("hermes", '<tool_call>{"name": "python", "arguments": {"code": "pri</tool_call>', "cut short"),
        ("hermes", '<tool_call>{"arguments": {"code": "print(1)"}}</tool_call>', 'no "name"'),
        ("hermes", '<tool_call>{"name": "python", "arguments": [1]}</tool_call>', "must be a JSON object"),
        ("llama", '<|python_tag|>{"name": "python", "parameters": {"code": "pr', "not valid JSON"),
        ("llama", '{"name": "python", "parameters": {"code": "print(1)"', "not valid JSON"),
        ("mistral", '[TOOL_CALLS][{"name": "python", "arguments": {"code": "print(1)"}}', "not valid JSON"),
        ("mistral", "[TOOL_CALLS]", "no call after it"),
        ("fenced", '```tool\n{"name": "python", "arguments": {"code": "print(1)"}}\n', "unterminated ```tool"),
    ],
)
def test_malformed_calls_are_errors_and_never_calls(dialect: str, text: str, says: str) -> None:
    parsed = parse_calls(text, dialect)
    assert parsed.dialect == dialect and parsed.calls == []
    assert any(says in e for e in parsed.errors), parsed.errors


def test_plain_text_has_no_dialect() -> None:
    assert detect("ANSWER: 42").dialect == "" and detect('The JSON is {"a": 1}').dialect == ""


def test_client_keeps_reasoning_apart_and_counts_it(scripted) -> None:
    reply_field = {"content": "ANSWER: 42", "reasoning_content": "six times seven ANSWER: 999"}
    in_content = "<think>six times seven is ANSWER: 999</think>ANSWER: 42"
    with scripted([reply_field, in_content]) as model:
        client = ModelClient(model.base_url)
        first, second = client.chat(ASK), client.chat(ASK)
    assert first.text == "ANSWER: 42" and first.reasoning == "six times seven ANSWER: 999"
    assert first.usage.reasoning_tokens == 5 and first.usage.completion_tokens == 7  # the endpoint's count
    assert second.text == "ANSWER: 42" and "999" in second.reasoning and "999" not in second.content
    assert 0 < second.usage.reasoning_tokens < second.usage.completion_tokens  # estimated: its share


def test_client_reads_content_calls_only_when_tools_are_offered_and_learns_the_dialect(scripted) -> None:
    hermes = '<tool_call>{"name": "python", "arguments": {"code": "print(1)"}}</tool_call>'
    fenced = '```tool\n{"name": "python", "arguments": {"code": "print(2)"}}\n```'
    with scripted([hermes, hermes, fenced]) as model:
        client = ModelClient(model.base_url)
        plain = client.chat(ASK)
        assert plain.tool_calls == [] and client.dialect is None
        offered = client.chat(ASK, tools=PY)
        assert offered.tool_format == "hermes" and offered.tool_calls[0].arguments == {"code": "print(1)"}
        assert client.dialect == "hermes"
        # Learned for this endpoint: another dialect's markup is now text, not a call.
        other = client.chat(ASK, tools=PY)
    assert other.tool_calls == [] and other.tool_format == ""


def test_tool_mode_forces_a_dialect(scripted) -> None:
    mistral = '[TOOL_CALLS][{"name": "python", "arguments": {"code": "print(1)"}}]'
    with scripted([mistral]) as model:
        forced = ModelClient(model.base_url, tool_mode="hermes").chat(ASK, tools=PY)
        auto = ModelClient(model.base_url).chat(ASK, tools=PY)
    assert forced.tool_calls == [] and auto.tool_format == "mistral"


def test_reasoning_goes_back_only_where_the_api_wants_it(scripted) -> None:
    turns = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a", "reasoning_content": "thought"},
        {"role": "user", "content": "go on"},
    ]
    with scripted(["ok", "ok"]) as model:
        ModelClient(model.base_url).chat(turns)
        ModelClient(model.base_url, resend_reasoning="reasoning").chat(turns)
        never, back = (r["messages"][1] for r in model.requests)
    assert never == {"role": "assistant", "content": "a"}
    assert back == {"role": "assistant", "content": "a", "reasoning": "thought"}


def test_a_cut_off_reply_is_asked_again_with_more_tokens(scripted) -> None:
    long = "<think>" + "step " * 30 + "</think>" + "word " * 10 + "\nANSWER: 42"
    with scripted([long], honour_max_tokens=True) as model:
        reply = ModelClient(model.base_url, max_tokens=16, max_tokens_limit=64).chat(ASK)
        asked = [r["max_tokens"] for r in model.requests]
    assert asked == [16, 32, 64] and reply.finish_reason == "stop"
    assert reply.text.startswith("word word") and reply.text.endswith("ANSWER: 42") and "step" in reply.reasoning
    assert reply.retries == [
        {"max_tokens": 16, "finish_reason": "length"},
        {"max_tokens": 32, "finish_reason": "length"},
    ]
    assert reply.usage.calls == 3 and reply.usage.completion_tokens == 16 + 32 + 42  # every try is paid for


def test_a_reply_still_cut_off_within_the_budget_is_never_read(scripted) -> None:
    call = '<tool_call>{"name": "python", "arguments": {"code": "' + "x = 1; " * 40 + 'print(x)"}}</tool_call>'
    with scripted([call], honour_max_tokens=True) as model:
        reply = ModelClient(model.base_url, max_tokens=8, max_tokens_limit=16).chat(ASK, tools=PY)
        unbounded = ModelClient(model.base_url, max_tokens=8).chat(ASK, tools=PY)  # no retry budget
    for cut in (reply, unbounded):
        assert cut.finish_reason == "length" and cut.tool_calls == [] and cut.text == ""
        assert any("cut off at max_tokens=8" in p for p in cut.problems), cut.problems
    assert "again with 16" in reply.problems[-1] and reply.content.startswith("<tool_call>")


def test_a_cut_off_reply_is_not_cached(scripted, tmp_path) -> None:
    class Cache(dict):
        def cached_reply(self, key):
            return self.get(key)

        def cache_reply(self, key, model, reply):
            self[key] = json.loads(json.dumps(reply))

    cache = Cache()
    with scripted(["one two three four five six"], honour_max_tokens=True) as model:
        ModelClient(model.base_url, max_tokens=2, cache=cache).chat(ASK)
        assert cache == {}
        ModelClient(model.base_url, max_tokens=20, cache=cache).chat(ASK)
    assert len(cache) == 1

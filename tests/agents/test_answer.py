from solvegraph.agents.answer import answer_from_output, code_blocks, explicit_answer, normalize, text_tool_calls


def test_code_blocks() -> None:
    assert code_blocks("x\n```python\nprint(1)\n```\ny") == ["print(1)"]
    assert code_blocks("```\nprint(2)\n```") == ["print(2)"]
    assert code_blocks("```python\nprint(3)\n") == ["print(3)\n"]  # unterminated
    assert code_blocks("no code") == []


def test_explicit_answer_forms() -> None:
    assert explicit_answer("work\nANSWER: 42") == "42"
    assert explicit_answer("**Final Answer:** 7") == "7"
    assert explicit_answer("so \\boxed{\\frac{1}{2}}") == "\\frac{1}{2}"
    assert explicit_answer("#### 1,000") == "1,000"
    assert explicit_answer("nothing here") is None


def test_normalize() -> None:
    assert normalize("1,234") == "1234"
    assert normalize("$18.00") == "18"
    assert normalize("3/4") == "0.75"
    assert normalize("45%") == "45"
    assert normalize("  x + 1. ") == "x + 1"
    assert normalize("") is None


def test_output_fallback_and_text_tool_calls() -> None:
    assert answer_from_output("a\n 12 \n") == "12"
    assert answer_from_output("") is None
    assert text_tool_calls('```tool\n{"name": "milp", "arguments": {"a": 1}}\n```') == [("milp", {"a": 1})]
    assert text_tool_calls("```tool\nnot json\n```")[0][0] == ""

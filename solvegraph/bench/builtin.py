"""Built-in datasets and scorers, registered through the plugin hooks like any outside ones."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..config import tool_sections
from ..plugins import hookimpl
from ._dcp import needs_cpmpy, read_dcp
from .datasets import Dataset, DatasetError, Loaded, Sample, text_field
from .scorers import BUILTIN_SCORERS, Scorer, is_infeasible


def _opt_row(prefix: str) -> Any:
    def row(record: dict[str, Any], line: int) -> Sample:
        question = text_field(record, "en_question")
        if "en_answer" not in record:
            raise KeyError("en_answer")
        answer = record["en_answer"]
        if is_infeasible(answer):
            answer = "infeasible"
        elif isinstance(answer, str):
            try:
                answer = float(answer)
            except ValueError:
                raise ValueError(f"en_answer {answer!r} is neither a number nor 'No Best Solution'") from None
        elif isinstance(answer, bool) or not isinstance(answer, int | float):
            raise ValueError(f"en_answer must be a number or a string, got {type(answer).__name__}")
        sample_id = f"{prefix}-{record['id']}" if "id" in record else f"{prefix}-{line}"
        return Sample(sample_id, question, answer, {"line": line})

    return row


def _optibench_original_row(record: dict[str, Any], line: int) -> Sample:
    """ReSocratic's OptiBench: the quantities asked (``results``: label -> number) are the gold, all of them."""
    problem = text_field(record, "question")
    results = record["results"]
    if not isinstance(results, dict) or not results:
        raise ValueError("results must be an object of the quantities asked")
    gold = {}
    for label, value in results.items():
        try:
            gold[str(label)] = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"results[{label!r}] is not a number: {value!r}") from None
    example = json.dumps(dict.fromkeys(list(gold)[:2], 0.0))
    asked = "\n".join(f"- {label}" for label in gold)
    question = (
        f"{problem}\n\nGive each of these values:\n{asked}\n\nAnswer with one JSON object on one line, these labels "
        f"as its keys and numbers as its values, e.g. ANSWER: {example}"
    )
    meta = {"line": line, "category": record.get("type")}
    return Sample(f"optibench_original-{record.get('index', line)}", question, gold, meta)


OPTIMIZATION_DATASETS = [
    Dataset(
        "nl4opt",
        "NL4Opt LP/MILP word problems (245; downloaded: SIRL's reviewed copy); 'No Best Solution': infeasible",
        _opt_row("nl4opt"),
        "objective",
        "nl4opt/NL4OPT.jsonl",
    ),
    Dataset(
        "nl4opt_original",
        "NL4Opt as OptMATH ships it (245), before SIRL's review",
        _opt_row("nl4opt_original"),
        "objective",
        "nl4opt/NL4OPT.jsonl",
    ),
    Dataset(
        "mamo_easy",
        "MAMO EasyLP optimization word problems (downloaded: SIRL's corrected 642 of the original 652)",
        _opt_row("mamo_easy"),
        "objective",
        "mamo/MAMO_EasyLP.jsonl",
    ),
    Dataset(
        "mamo_easy_original",
        "MAMO EasyLP as first published (652), wrong golds included",
        _opt_row("mamo_easy_original"),
        "objective",
        "mamo/MAMO_EasyLP.jsonl",
    ),
    Dataset(
        "mamo_complex",
        "MAMO ComplexLP optimization word problems (downloaded: SIRL's corrected 203 of the original 211)",
        _opt_row("mamo_complex"),
        "objective",
        "mamo/MAMO_ComplexLP.jsonl",
    ),
    Dataset(
        "mamo_complex_original",
        "MAMO ComplexLP as first published (211), wrong golds included",
        _opt_row("mamo_complex_original"),
        "objective",
        "mamo/MAMO_ComplexLP.jsonl",
    ),
    Dataset(
        "industryor",
        "IndustryOR industrial OR problems (100), SIRL's corrected version (fixedV2)",
        _opt_row("industryor"),
        "objective",
        "industryor/IndustryOR_fixedV2.json",
    ),
    Dataset(
        "optibench",
        "OptiBench optimization modeling problems (605), as SIRL ships them",
        _opt_row("optibench"),
        "objective",
        "optibench/OptiBench.jsonl",
    ),
    Dataset(
        "optibench_original",
        "OptiBench as ReSocratic published it (605): every quantity asked (often the variables too) must match",
        _optibench_original_row,
        "values",
        "optibench_original/OptiBench.jsonl",
    ),
    Dataset(
        "optmath",
        "OptMATH-Bench harder optimization modeling problems (166)",
        _opt_row("optmath"),
        "objective",
        "optmath_bench/OptMATH_Bench.jsonl",
    ),
]


def read_lean_folder(path: Path) -> Loaded:
    """One sample per ``.lean`` file (a folder, or one file): the statement to prove, named by its file."""
    files = sorted(path.glob("*.lean")) if path.is_dir() else [path]
    samples, skipped = [], []
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            skipped.append(f"{f}:1: cannot read: {exc}")
            continue
        if f"theorem {f.stem}" not in text or "sorry" not in text:
            skipped.append(f"{f}:1: expected 'theorem {f.stem} ... := by sorry'")
            continue
        # The statement is the gold: the proof scorer checks the run's final proof against it, not
        # against whatever the model passed to its own lean calls.
        gold = {"statement": text, "theorem": f.stem}
        samples.append(Sample(f"minif2f-{f.stem}", text, gold, {"theorem": f.stem, "file": str(f)}))
    return Loaded(samples, skipped)


def needs_lean_project(options: dict[str, Any]) -> None:
    if not tool_sections(options).get("lean", {}).get("project"):  # --lean-project, or [tools.lean] project
        raise DatasetError(
            "miniF2F needs Mathlib: pass --lean-project PATH, a Lake project with Mathlib (v4.24.0) built. "
            "None is configured, so nothing was run: this machine has no Mathlib, and results are never faked"
        )


MINIF2F = Dataset(
    "minif2f",
    "miniF2F-lean4 test split: 244 competition statements to prove in Lean 4 with Mathlib",
    lambda record, line: Sample("", "", None),
    "proof",
    "minif2f_lean4/Test",
    reader=read_lean_folder,
    check_ready=needs_lean_project,
)


# ComplexOR's check: the produced function's value on each data instance against the instance's output.
_CLOSE = """def _sg_close(got, want):
    want = want[0] if isinstance(want, list) and len(want) == 1 else want
    if isinstance(want, list):
        return isinstance(got, (list, tuple)) and len(got) == len(want) and all(map(_sg_close, got, want))
    return abs(float(got) - float(want)) <= max(1e-6, 1e-4 * abs(float(want)))
"""


def read_complexor_folder(path: Path) -> Loaded:
    """ComplexOR as Chain-of-Experts ships it (``dataset/ComplexOR``): one folder per problem with its
    ``description.txt``, the function to write (``code_example.py``) and its data instances
    (``sample.json``: input keywords and the expected output). The produced function is run on every
    instance in a fresh sandboxed kernel, and every one must match (relative 1e-4)."""
    samples, skipped = [], []
    for folder in sorted(p for p in path.iterdir() if p.is_dir()):
        try:
            description = (folder / "description.txt").read_text(encoding="utf-8").strip()
            stub = (folder / "code_example.py").read_text(encoding="utf-8")
            instances = json.loads((folder / "sample.json").read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            skipped.append(f"{folder}:1: cannot read the problem: {exc}")
            continue
        found = re.search(r"^def (\w+)\(", stub, re.M)
        if not found or not isinstance(instances, list) or not instances:
            skipped.append(f"{folder}:1: expected a function in code_example.py and instances in sample.json")
            continue
        entry = found.group(1)
        try:
            tests = [
                f"assert _sg_close({entry}(**{case['input']!r}), {case['output']!r}), 'instance {i}'"
                for i, case in enumerate(instances, start=1)
            ]
        except (KeyError, TypeError):
            skipped.append(f"{folder}/sample.json:1: each instance needs 'input' (keywords) and 'output'")
            continue
        question = (
            f"{description}\n\nWrite this Python function, completely, in one code block (any solver you have "
            f"may be used); it is run on each of the problem's data instances:\n```python\n{stub}```"
        )
        gold = {"setup": _CLOSE, "tests": tests}
        samples.append(Sample(f"complexor-{folder.name}", question, gold, {"kind": "code", "file": str(folder)}))
    if not samples and not skipped:
        raise DatasetError(f"{path}: no ComplexOR problem folders (description.txt, code_example.py, sample.json)")
    return Loaded(samples, skipped)


COMPLEXOR = Dataset(
    "complexor",
    "ComplexOR (Chain-of-Experts): write the optimization function; it is run on every data instance",
    lambda record, line: Sample("", "", None),
    "unit_tests",
    "Chain-of-Experts/dataset/ComplexOR",
    reader=read_complexor_folder,
)

DCP_BENCH_OPEN = Dataset(
    "dcp_bench_open",
    "DCP-Bench-Open discrete combinatorial problems (164): the solution is checked against the gold CPMpy model",
    lambda record, line: Sample("", "", None),
    "dcp",
    "DCP-Bench-Open/dataset",
    reader=read_dcp,
    check_ready=needs_cpmpy,
)


def _gsm8k_row(record: dict[str, Any], line: int) -> Sample:
    question, answer = text_field(record, "question"), text_field(record, "answer")
    if "####" not in answer:
        raise ValueError("answer has no '####' final number")
    gold = answer.rsplit("####", 1)[1].strip().replace(",", "")
    return Sample(f"gsm8k-{line}", question, gold, {"line": line})


def _mbpp_row(record: dict[str, Any], line: int) -> Sample:
    tests = record["test_list"]
    if not isinstance(tests, list) or not tests:
        raise ValueError("test_list must be a non-empty list of asserts")
    text_ = text_field(record, "text")
    # The asserts show the expected function name and signature, as in the MBPP paper's prompt.
    question = f"{text_}\nYour code should pass these tests:\n" + "\n".join(tests)
    task = int(record["task_id"])
    split = "test" if 11 <= task <= 510 else "prompt" if task <= 10 else "validation" if task <= 600 else "train"
    return Sample(
        f"mbpp-{task}",
        question,
        {"tests": tests, "setup": record.get("test_setup_code", "")},
        {"line": line, "split": split, "kind": "code"},
    )


def _math_row(record: dict[str, Any], line: int) -> Sample:
    """ToRA's MATH test file: the gold is the last ``\\boxed{}`` of the reference solution."""
    from ._mathcheck import last_boxed

    problem, solution = text_field(record, "problem"), text_field(record, "solution")
    gold = last_boxed(solution)
    if not gold:
        raise ValueError("solution has no \\boxed{} final answer")
    sample_id = f"math-{record['idx']}" if "idx" in record else f"math-line{line}"
    meta = {"line": line, "category": record.get("type"), "level": record.get("level")}
    return Sample(sample_id, problem, gold, meta)


MATH = Dataset(
    "math",
    "MATH competition problems (the 5,000-problem test set as ToRA ships it); the math scorer",
    _math_row,
    "math",
    "math/test.jsonl",
)


def _humaneval_row(record: dict[str, Any], line: int) -> Sample:
    """HumanEval: complete the function. The scorer runs the prompt's imports and helpers, then the
    produced code, then the task's ``check(entry_point)`` in a fresh sandboxed kernel."""
    prompt, test, entry = text_field(record, "prompt"), text_field(record, "test"), text_field(record, "entry_point")
    task = text_field(record, "task_id")
    cut = prompt.rfind(f"def {entry}(")
    if cut < 0:
        raise ValueError(f"the prompt does not define its entry point {entry!r}")
    question = (
        f"Complete this Python function; answer with the whole function (its signature too) in one code block.\n\n"
        f"```python\n{prompt}```"
    )
    gold = {"prelude": prompt[:cut], "tests": [test, f"check({entry})"], "setup": ""}
    return Sample(task.replace("/", "-").lower(), question, gold, {"line": line, "kind": "code"})


HUMANEVAL = Dataset(
    "humaneval",
    "HumanEval Python functions (164), run against the task's tests in a fresh sandboxed kernel",
    _humaneval_row,
    "unit_tests",
    "humaneval/HumanEval.jsonl",
)

GSM8K = Dataset(
    "gsm8k",
    "GSM8K grade-school math (test split, 1319); gold is the number after ####",
    _gsm8k_row,
    "numeric",
    "gsm8k/test.jsonl",
)


def _number_gold(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"field '{field}' must be a number")
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"field '{field}' is not a number: {value!r}") from None


def _gsm_hard_row(record: dict[str, Any], line: int) -> Sample:
    question = text_field(record, "input")
    if "target" not in record:
        raise KeyError("target")
    gold = _number_gold(record["target"], "target")
    return Sample(f"gsm_hard-{record.get('idx', line)}", question, gold, {"line": line})


def _asdiv_row(record: dict[str, Any], line: int) -> Sample:
    """ToRA's ASDiv: the answer is "9 (apples)"; the number before the unit is the gold."""
    body, question, answer = text_field(record, "body"), text_field(record, "question"), text_field(record, "answer")
    gold = answer.split("(", 1)[0].strip()
    if not gold:
        raise ValueError(f"answer {answer!r} has no value before its unit")
    meta = {"line": line, "category": record.get("solution_type")}
    return Sample(f"asdiv-{record.get('idx', line)}", f"{body} {question}", gold, meta)


def _svamp_row(record: dict[str, Any], line: int) -> Sample:
    body, question = text_field(record, "Body"), text_field(record, "Question")
    if "Answer" not in record:
        raise KeyError("Answer")
    gold = _number_gold(record["Answer"], "Answer")
    sample_id = str(record.get("ID") or f"line{line}")
    return Sample(
        f"svamp-{sample_id}", f"{body.strip()} {question.strip()}", gold, {"line": line, "category": record.get("Type")}
    )


MATH_WORD_DATASETS = [
    Dataset(
        "gsm_hard",
        "GSM-Hard: GSM8K's test problems with larger numbers (1319, PAL's set as ToRA ships it)",
        _gsm_hard_row,
        "numeric",
        "gsm_hard/test.jsonl",
    ),
    Dataset(
        "asdiv",
        "ASDiv math word problems (2215, as ToRA ships them); the gold is the number before the unit",
        _asdiv_row,
        "math",
        "asdiv/test.jsonl",
    ),
    Dataset(
        "svamp",
        "SVAMP math word problems (1000); question is Body + Question",
        _svamp_row,
        "numeric",
        "svamp/SVAMP.jsonl",
    ),
]

MBPP = Dataset(
    "mbpp",
    "MBPP Python tasks; the standard test split is task_id 11-510 (--split test)",
    _mbpp_row,
    "unit_tests",
    "mbpp/mbpp.jsonl",
)


def _field(record: dict[str, Any], names: tuple[str, ...]) -> Any:
    """The first of ``names`` the record has, matched without regard to case (SVAMP says ``ID`` and ``Type``)."""
    lowered = {k.lower(): k for k in record}
    for name in names:
        if name.lower() in lowered:
            return record[lowered[name.lower()]]
    return None


def jsonl_dataset(
    question_fields: list[str],
    answer_field: str,
    scorer: str = "numeric",
    *,
    id_field: str | None = None,
    category_field: str | None = None,
) -> Dataset:
    """Any JSONL file: question from one or more fields (joined with a space), answer from one field.

    The sample id is ``id_field`` when given (a line without it is skipped), else the first of ``id``
    or ``task_id`` in any case, else the line number; the category likewise from ``category_field``, else
    ``category`` or ``type``. A line whose gold is null is skipped, and said: a sample with no gold
    cannot be scored, and calling it wrong would lower the accuracy for the dataset's fault.
    """

    def row(record: dict[str, Any], line: int) -> Sample:
        parts = [str(record[f]).strip() for f in question_fields]
        question = " ".join(p for p in parts if p)
        if not question:
            raise ValueError(f"empty question in field(s) {', '.join(question_fields)}")
        if answer_field not in record:
            raise KeyError(answer_field)
        if record[answer_field] is None:
            raise ValueError(f"null gold in field '{answer_field}'")
        if id_field is not None:
            if record.get(id_field) is None:
                raise KeyError(id_field)
            sample_id = str(record[id_field])
        else:
            found = _field(record, ("id", "task_id"))
            sample_id = str(found) if found is not None else f"line{line}"
        if category_field is not None and category_field not in record:
            raise KeyError(category_field)
        category = record[category_field] if category_field is not None else _field(record, ("category", "type"))
        return Sample(f"jsonl-{sample_id}", question, record[answer_field], {"line": line, "category": category})

    return Dataset("jsonl", f"JSONL file: question {'+'.join(question_fields)}, answer {answer_field}", row, scorer)


@hookimpl
def solvegraph_datasets() -> list[Dataset]:
    return [
        GSM8K, MATH, *MATH_WORD_DATASETS, MBPP, HUMANEVAL, COMPLEXOR, DCP_BENCH_OPEN, *OPTIMIZATION_DATASETS, MINIF2F
    ]  # fmt: skip


@hookimpl
def solvegraph_scorers() -> list[Scorer]:
    return list(BUILTIN_SCORERS)

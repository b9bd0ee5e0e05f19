"""Built-in datasets and scorers, registered through the plugin hooks like any outside ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import tool_sections
from ..plugins import hookimpl
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


OPTIMIZATION_DATASETS = [
    Dataset(
        "nl4opt",
        "NL4Opt LP/MILP word problems (245); 'No Best Solution' gold means infeasible",
        _opt_row("nl4opt"),
        "objective",
        "nl4opt/NL4OPT.jsonl",
    ),
    Dataset(
        "mamo_easy",
        "MAMO EasyLP optimization word problems (652)",
        _opt_row("mamo_easy"),
        "objective",
        "mamo/MAMO_EasyLP.jsonl",
    ),
    Dataset(
        "mamo_complex",
        "MAMO ComplexLP optimization word problems (211)",
        _opt_row("mamo_complex"),
        "objective",
        "mamo/MAMO_ComplexLP.jsonl",
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


GSM8K = Dataset(
    "gsm8k",
    "GSM8K grade-school math (test split, 1319); gold is the number after ####",
    _gsm8k_row,
    "numeric",
    "gsm8k/test.jsonl",
)
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
    return [GSM8K, MBPP, *OPTIMIZATION_DATASETS, MINIF2F]


@hookimpl
def solvegraph_scorers() -> list[Scorer]:
    return list(BUILTIN_SCORERS)

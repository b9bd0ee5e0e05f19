"""Built-in datasets and scorers, registered through the plugin hooks like any outside ones."""

from __future__ import annotations

from typing import Any

from ..plugins import hookimpl
from .datasets import Dataset, Sample, text_field
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
    Dataset("nl4opt", "NL4Opt LP/MILP word problems (245); 'No Best Solution' gold means infeasible",
            _opt_row("nl4opt"), "objective", "nl4opt/NL4OPT.jsonl"),
    Dataset("mamo_easy", "MAMO EasyLP optimization word problems (652)", _opt_row("mamo_easy"), "objective",
            "mamo/MAMO_EasyLP.jsonl"),
    Dataset("mamo_complex", "MAMO ComplexLP optimization word problems (211)", _opt_row("mamo_complex"),
            "objective", "mamo/MAMO_ComplexLP.jsonl"),
    Dataset("optmath", "OptMATH-Bench harder optimization modeling problems (166)", _opt_row("optmath"),
            "objective", "optmath_bench/OptMATH_Bench.jsonl"),
]


@hookimpl
def solvegraph_datasets() -> list[Dataset]:
    return list(OPTIMIZATION_DATASETS)


@hookimpl
def solvegraph_scorers() -> list[Scorer]:
    return list(BUILTIN_SCORERS)

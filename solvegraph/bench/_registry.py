"""Built-in datasets' pinned sources: where each file lives at a fixed commit, its sha256, license, citation.

``solvegraph data get NAME`` and ``solvegraph bench NAME`` (with no ``--data``) fetch the file once into
the user cache folder (:func:`solvegraph.config.data_cache_dir`), check its sha256 and, when the file
is not already JSON Lines, write the JSONL the dataset's loader reads beside it. With a mirror
(``SOLVEGRAPH_DATA_MIRROR`` / ``data_mirror``) the same file is fetched from ``MIRROR/<dataset>/<file>``
and checked against the same hash, so an air-gapped copy can be no other data.

A dataset that is a folder of files upstream (ComplexOR's problem folders, DCP-Bench-Open's models) is
pinned as a list of files (format ``files``): ``url`` is the folder at the pinned commit, each file is
``url + path`` (``MIRROR/<dataset>/<path>`` under a mirror) with its own sha256, downloaded and checked
one by one into the dataset's cache folder, which the loader then reads. The list of a built-in set is
``manifests/<dataset>.sha256`` in ``sha256sum`` format (``sha256sum -c`` checks a download by hand), and
the pin's own ``sha256`` is the hash of that list, so neither can change without the other.

The hashes were computed from the files at the pinned commits. A plugin that adds a dataset may add
its pinned source with :func:`register`.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..config import data_cache_dir
from ._download import Progress, download, sha256_of
from .datasets import DatasetError

FORMATS = ("jsonl", "json-array", "jsonl.gz", "files")


@dataclass(frozen=True)
class Pinned:
    """One dataset's source file, pinned."""

    dataset: str
    url: str  # the canonical file at a pinned commit (raw content)
    sha256: str
    size: int  # bytes, for the progress bar before the server says
    license: str
    citation: str
    rows: str  # what one row holds, for `data get`
    format: str = "jsonl"  # jsonl | json-array (converted to JSONL) | jsonl.gz (decompressed) | files
    # format "files": (path under ``url`` and the cache folder, sha256) of each file; ``sha256`` is then
    # the hash of :func:`listing` of them, and ``size`` their total bytes
    files: tuple[tuple[str, str], ...] = ()

    @property
    def file(self) -> str:
        """The file's name: the last part of its URL, and its name under a mirror."""
        return self.url.rsplit("/", 1)[-1]

    @property
    def loads(self) -> str:
        """The name of the JSONL file the loader reads (the file itself, or what it was converted to);
        empty for a set of files, whose loader reads the dataset's folder."""
        if self.format == "files":
            return ""
        if self.format == "jsonl":
            return self.file
        stem = self.file.removesuffix(".gz").removesuffix(".jsonl").removesuffix(".json")
        return f"{stem}.jsonl"

    def mirror_url(self, mirror: str, path: str | None = None) -> str:
        return f"{mirror.rstrip('/')}/{self.dataset}/{path or self.file}"


def listing(files: tuple[tuple[str, str], ...]) -> str:
    """The files of a set as ``sha256sum`` writes them (``HASH  PATH`` lines): what a ``files`` pin hashes."""
    return "".join(f"{digest}  {path}\n" for path, digest in files)


def manifest(name: str) -> tuple[tuple[str, str], ...]:
    """The (path, sha256) list of a built-in set, from its ``manifests/NAME.sha256``."""
    text = resources.files(__package__).joinpath("manifests", f"{name}.sha256").read_text(encoding="utf-8")
    return tuple((path, digest) for digest, path in (line.split("  ", 1) for line in text.splitlines() if line))


def _raw(repo: str, commit: str, path: str) -> str:
    return f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"


GSM8K_COMMIT = "3101c7d5072418e28b9008a6636bde82a006892c"
TORA_COMMIT = "213c1c995038c73fab10343814df7a42f990f026"
SVAMP_COMMIT = "689d7ccac74b9983a2ac7cc3b264f441b99e7c53"
OPTMATH_COMMIT = "f15bbc4477c70db85ad148df8bcc1b780bca0f8c"
SIRL_COMMIT = "8e85194b8f251ec229cc310c2c6e8794ead85682"
COE_COMMIT = "9ce1fb7e522e930fe45100ce60661a4236514de6"  # xzymustbexzy/Chain-of-Experts (ComplexOR)
RESOCRATIC_COMMIT = "56a638f689abbfd67650121cd4fdbe044e69e86c"  # yangzhch6/ReSocratic (OptiBench)
DCP_COMMIT = "6b0094c6f080a34950ec2f52ee07fed8150327bd"  # DCP-Bench/DCP-Bench-Open, release v0.2.2
TORA_CITE = "Gou et al., ToRA: A Tool-Integrated Reasoning Agent for Mathematical Problem Solving, ICLR 2024"
OPTMATH_CITE = "Lu et al., OptMATH: A Scalable Bidirectional Data Synthesis Framework for Optimization Modeling, 2025"
SIRL_CITE = "Chen et al., Solver-Informed RL: Grounding LLMs for Authentic Optimization Modeling (SIRL), 2025"
SIRL_LICENSE = "none stated in Cardinal-Operations/SIRL (corrections of the upstream sets; see their licenses)"
OPT_ROWS = "en_question (text), en_answer (optimal objective, or 'No Best Solution': infeasible)"

BUILTIN = [
    Pinned(
        "gsm8k",
        _raw("openai/grade-school-math", GSM8K_COMMIT, "grade_school_math/data/test.jsonl"),
        "3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14",
        749738,
        "MIT",
        "Cobbe et al., Training Verifiers to Solve Math Word Problems, 2021",
        "question, answer (worked solution ending '#### N')",
    ),
    Pinned(
        "math",
        _raw("microsoft/ToRA", TORA_COMMIT, "src/data/math/test.jsonl"),
        "3371949f33dd702d04b43fddd7d53a028de0aaca0e76abb1b875a050297b3aa4",
        4101364,
        "MIT (MATH: Hendrycks et al.; ToRA's copy)",
        "Hendrycks et al., Measuring Mathematical Problem Solving With the MATH Dataset, NeurIPS 2021; " + TORA_CITE,
        "problem, solution (gold: its last \\boxed{}), type, level, idx",
    ),
    Pinned(
        "gsm_hard",
        _raw("microsoft/ToRA", TORA_COMMIT, "src/data/gsm-hard/test.jsonl"),
        "45db606263a4902580aba3974e8b7fb3f66012877889209af206b1c1b2f208f5",
        1151550,
        "MIT (PAL's GSM-Hard; ToRA's copy)",
        "Gao et al., PAL: Program-aided Language Models, ICML 2023; " + TORA_CITE,
        "input (GSM8K with larger numbers), code, target (number)",
    ),
    Pinned(
        "asdiv",
        _raw("microsoft/ToRA", TORA_COMMIT, "src/data/asdiv/test.jsonl"),
        "5759580385e706f961a30d4c07d6925b35c3f7c86d6c50bc413957169693dad2",
        613636,
        "CC BY-NC 4.0 (ASDiv; ToRA's copy)",
        "Miao et al., A Diverse Corpus for Evaluating and Developing English Math Word Problem Solvers, ACL 2020; "
        + TORA_CITE,
        "body, question, answer ('9 (apples)'), solution_type, formula, idx",
    ),
    Pinned(
        "svamp",
        _raw("arkilpatel/SVAMP", SVAMP_COMMIT, "SVAMP.json"),
        "5be77703a6d891ae476d7c082787ad361392aa02453b132516cdd5f4e7934e3e",
        339970,
        "MIT",
        "Patel et al., Are NLP Models really able to Solve Simple Math Word Problems?, NAACL 2021",
        "ID, Body, Question, Equation, Answer (number), Type",
        "json-array",
    ),
    Pinned(
        "mbpp",
        _raw("google-research/google-research", "2251e8c67a7fe7d6348714967ee101080b28e956", "mbpp/mbpp.jsonl"),
        "0b5e07b5b40fedd01c57b7c9177b79f8b2eebd72c304c928605d91a7237d2f33",
        563742,
        "CC-BY-4.0 (the Hugging Face card of google-research-datasets/mbpp)",
        "Austin et al., Program Synthesis with Large Language Models, 2021",
        "task_id, text, code, test_list (three asserts), test_setup_code; the test split is task_id 11-510",
    ),
    Pinned(
        "humaneval",
        _raw("openai/human-eval", "6d43fb980f9fee3c892a914eda09951f772ad10d", "data/HumanEval.jsonl.gz"),
        "b796127e635a67f93fb35c04f4cb03cf06f38c8072ee7cee8833d7bee06979ef",
        44877,
        "MIT",
        "Chen et al., Evaluating Large Language Models Trained on Code, 2021",
        "task_id, prompt (signature and docstring), entry_point, canonical_solution, test (check(candidate))",
        "jsonl.gz",
    ),
    Pinned(
        "nl4opt",
        _raw("Cardinal-Operations/SIRL", SIRL_COMMIT, "test_data/NL4OPT.jsonl"),
        "7cf8e6fb097a57d9f647ab7b37d005656cbc6a89f6ba2978a52ed618bfbdb5df",
        143216,
        SIRL_LICENSE + "; NL4Opt: MIT",
        "Ramamonjison et al., NL4Opt Competition, NeurIPS 2022; " + SIRL_CITE,
        OPT_ROWS,
    ),
    Pinned(
        "nl4opt_original",
        _raw("optsuite/OptMATH", OPTMATH_COMMIT, "benchmark/NL4OPT.json"),
        "87bc1930251dfef551a7cb1d4c79889a0b0522f7a715b285257f0ed7598f95f0",
        143217,
        "Apache-2.0 (OptMATH); NL4Opt: MIT",
        "Ramamonjison et al., NL4Opt Competition, NeurIPS 2022; " + OPTMATH_CITE,
        OPT_ROWS,
    ),
    Pinned(
        "mamo_easy",
        _raw("Cardinal-Operations/SIRL", SIRL_COMMIT, "test_data/MAMO_EasyLP_fixed.jsonl"),
        "3704621599ff600216f810dd3b118b6ae86a69eb2afa7f386dbea88069657fb7",
        713826,
        SIRL_LICENSE,
        "Huang et al., MAMO: a Mathematical Modeling Benchmark with Solvers, 2024; " + SIRL_CITE,
        OPT_ROWS + "; SIRL's corrections: 642 of the 652, answers fixed",
    ),
    Pinned(
        "mamo_easy_original",
        _raw("optsuite/OptMATH", OPTMATH_COMMIT, "benchmark/MAMO_EasyLP.json"),
        "24acb11eef798501b79ce0f02287755e155113645c531af880f02a2c65e0ead8",
        712140,
        "Apache-2.0 (OptMATH's copy of MAMO)",
        "Huang et al., MAMO: a Mathematical Modeling Benchmark with Solvers, 2024; " + OPTMATH_CITE,
        OPT_ROWS,
    ),
    Pinned(
        "mamo_complex",
        _raw("Cardinal-Operations/SIRL", SIRL_COMMIT, "test_data/MAMO_ComplexLP_fixed.jsonl"),
        "0fe155db0ddb62ab82cdf270f2966afae9f46a512b1c02f6d8a9233f5d3f33c7",
        362655,
        SIRL_LICENSE,
        "Huang et al., MAMO: a Mathematical Modeling Benchmark with Solvers, 2024; " + SIRL_CITE,
        OPT_ROWS + "; SIRL's corrections: 203 of the 211, answers fixed",
    ),
    Pinned(
        "mamo_complex_original",
        _raw("optsuite/OptMATH", OPTMATH_COMMIT, "benchmark/MAMO_ComplexLP.json"),
        "cad5d60e68d9daedf5b711169e808928e7faee33d5bc5275ed5dcb80b2c7639b",
        376260,
        "Apache-2.0 (OptMATH's copy of MAMO)",
        "Huang et al., MAMO: a Mathematical Modeling Benchmark with Solvers, 2024; " + OPTMATH_CITE,
        OPT_ROWS,
    ),
    Pinned(
        "industryor",
        _raw("Cardinal-Operations/SIRL", SIRL_COMMIT, "test_data/IndustryOR_fixedV2.json"),
        "756549264386d9c28f3bf15b442e4d45e345f809155f7c7951c9b7edfd25ee8b",
        115295,
        SIRL_LICENSE,
        "Huang et al., ORLM: Training Large Language Models for Optimization Modeling, 2024; " + SIRL_CITE,
        OPT_ROWS + ", difficulty, id; SIRL's corrected version (fixedV2), one JSON object per line",
    ),
    Pinned(
        "optibench",
        _raw("Cardinal-Operations/SIRL", SIRL_COMMIT, "test_data/OptiBench.jsonl"),
        "1652b89ba6e3f08b4c67662ea1c8534170577e6f32e486df28befaa0d742174e",
        439907,
        SIRL_LICENSE,
        "Yang et al., OptiBench Meets ReSocratic: Measure and Improve LLMs for Optimization Modeling, ICLR 2025; "
        + SIRL_CITE,
        OPT_ROWS,
    ),
    Pinned(
        "optibench_original",
        _raw("yangzhch6/ReSocratic", RESOCRATIC_COMMIT, "data/OptiBench.json"),
        "0378fab2065e084563913340bc4cff6818a891dc06c5adc83452b40fbd18e85b",
        610820,
        "Apache-2.0",
        "Yang et al., OptiBench Meets ReSocratic: Measure and Improve LLMs for Optimization Modeling, ICLR 2025",
        "question, index, type (linear/nonlinear, notable/table), results (label -> number: every quantity asked)",
        "json-array",
    ),
    Pinned(
        "optmath",
        _raw("optsuite/OptMATH", OPTMATH_COMMIT, "benchmark/OptMATH_Bench.json"),
        "c5dbc2bf14995b880d13e306ff54ae81b603f07b565a31e52248533848ad3a93",
        499806,
        "Apache-2.0",
        OPTMATH_CITE,
        OPT_ROWS + ", id",
        "json-array",
    ),
    Pinned(
        "complexor",
        _raw("xzymustbexzy/Chain-of-Experts", COE_COMMIT, "dataset/ComplexOR/"),
        "11af79761a25a83c8d5891fc215ca0563c7d171b4cc4cca1545ab13e2a2ef84e",
        30308,
        "none stated in xzymustbexzy/Chain-of-Experts",
        "Xiao et al., Chain-of-Experts: When LLMs Meet Complex Operations Research Problems, ICLR 2024",
        "18 problem folders: description.txt, code_example.py (the function to write), "
        "sample.json (data instances: input keywords and the expected output)",
        "files",
        manifest("complexor"),
    ),
    Pinned(
        "dcp_bench_open",
        _raw("DCP-Bench/DCP-Bench-Open", DCP_COMMIT, "dataset/"),
        "1e33f523c118eff3630f7a31400cb1e81f06b034ec43bb0d6e6bd505b4b22e00",
        352067,
        "Apache-2.0",
        "Michailidis, Tsouros and Guns, DCP-Bench-Open: Evaluating LLMs for Constraint Modelling of Discrete "
        "Combinatorial Problems, 2026 (arXiv:2506.06052)",
        "164 problems, one NAME/NAME.cpmpy.py each: the description (a docstring ending with what to print), "
        "the example instance's data (# Data ... # End of data) and the gold CPMpy model",
        "files",
        manifest("dcp_bench_open"),
    ),
]


def _checked(pinned: Pinned) -> Pinned:
    if pinned.format not in FORMATS:
        raise DatasetError(f"dataset {pinned.dataset}: format must be one of {', '.join(FORMATS)}")
    if pinned.format == "files":
        got = hashlib.sha256(listing(pinned.files).encode()).hexdigest()
        if not pinned.files or got != pinned.sha256:
            raise DatasetError(f"dataset {pinned.dataset}: its list of files hashes to {got}, not {pinned.sha256}")
        if any(p.startswith("/") or ".." in p.split("/") for p, _ in pinned.files):
            raise DatasetError(f"dataset {pinned.dataset}: a file's path must stay inside its folder")
    return pinned


_registry: dict[str, Pinned] = {p.dataset: _checked(p) for p in BUILTIN}


def register(pinned: Pinned) -> None:
    """Add (or replace) a dataset's pinned source: a plugin's dataset becomes ``bench NAME``-able too."""
    _registry[pinned.dataset] = _checked(pinned)


def registered() -> dict[str, Pinned]:
    return dict(sorted(_registry.items()))


def pinned(name: str) -> Pinned:
    if name not in _registry:
        raise DatasetError(f"no pinned source for dataset {name!r}; known: {', '.join(sorted(_registry))}")
    return _registry[name]


def folder(name: str, cache: Path | None = None) -> Path:
    return (cache or data_cache_dir()) / name


def local_path(name: str, cache: Path | None = None) -> Path | None:
    """The JSONL file ``bench NAME`` reads (a set of files: their folder), if it has been fetched (and
    converted); else None. A file of a set is only ever in place once its hash matched."""
    p = pinned(name)
    if p.format == "files":
        root = folder(name, cache)
        return root if all((root / path).is_file() for path, _ in p.files) else None
    path = folder(name, cache) / p.loads
    return path if path.is_file() and (folder(name, cache) / p.file).is_file() else None


def ensure(
    name: str, *, mirror: str | None = None, progress: Progress | None = None, cache: Path | None = None
) -> Path:
    """The dataset's JSONL file, fetched (from the pinned URL, or ``mirror``) and checked on first use only."""
    found = local_path(name, cache)
    if found is not None:
        return found
    p = pinned(name)
    if p.format == "files":
        return _fetch_files(p, folder(name, cache), mirror, progress)
    raw = folder(name, cache) / p.file
    if not raw.is_file():
        download(p.mirror_url(mirror) if mirror else p.url, raw, p.sha256, size=p.size, progress=progress)
    return _convert(p, raw)


def _fetch_files(p: Pinned, root: Path, mirror: str | None, progress: Progress | None) -> Path:
    """Each file of the set not already here, over one connection, each checked against its own hash.
    A file that fails stops the fetch with its error; the files already checked stay, so the next
    attempt fetches only the rest."""
    total = p.size
    if progress is not None:
        here = sum((root / path).stat().st_size for path, _ in p.files if (root / path).is_file())
        progress(here, total)
    whole = None if progress is None else (lambda n, _size: progress(n, total))
    import httpx  # only when something is downloaded: listing datasets or plugins never loads it

    with httpx.Client(follow_redirects=True, timeout=60.0) as client:
        for path, digest in p.files:
            dest = root / path
            if not dest.is_file():
                url = p.mirror_url(mirror, path) if mirror else p.url + path
                download(url, dest, digest, progress=whole, client=client)
    return root


def _convert(p: Pinned, raw: Path) -> Path:
    """The JSONL the loader reads: the file itself, or written from it (atomically) once."""
    if p.format == "jsonl":
        return raw
    out = raw.with_name(p.loads)
    tmp = out.with_name(out.name + ".tmp")
    try:
        if p.format == "jsonl.gz":
            text = gzip.decompress(raw.read_bytes()).decode("utf-8")
        else:
            records: Any = json.loads(raw.read_text(encoding="utf-8"))
            if not isinstance(records, list):
                raise ValueError("expected a JSON array of records")
            text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    except (OSError, ValueError, EOFError) as exc:
        raise DatasetError(f"{raw}: cannot convert to JSON Lines: {exc}") from None
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out)
    return out


def verify(name: str, cache: Path | None = None) -> tuple[str, str]:
    """(status, detail) of a fetched dataset: ``ok``, ``missing`` (not fetched) or ``mismatch``."""
    p = pinned(name)
    if p.format == "files":
        return _verify_files(p, folder(name, cache))
    raw = folder(name, cache) / p.file
    if not raw.is_file():
        return "missing", f"not downloaded (solvegraph data get {name})"
    got = sha256_of(raw)
    if got != p.sha256:
        return "mismatch", f"{raw}: sha256 {got}, expected {p.sha256}"
    return "ok", str(raw)


def _verify_files(p: Pinned, root: Path) -> tuple[str, str]:
    missing = [path for path, _ in p.files if not (root / path).is_file()]
    if missing:
        return "missing", f"{len(missing)} of its {len(p.files)} files not downloaded (solvegraph data get {p.dataset})"
    for path, digest in p.files:
        got = sha256_of(root / path)
        if got != digest:
            return "mismatch", f"{root / path}: sha256 {got}, expected {digest}"
    return "ok", f"{root} ({len(p.files)} files)"

"""Pinned datasets: fetched once through a mirror from a loopback HTTP server serving the committed slices.

The real pins' hashes are those of the full upstream files, so a slice served under a real name is a
hash mismatch (tested as such); the happy paths register a pin with the slice's own hash, as a plugin
registers its dataset's source (``solvegraph.bench.register``), and run the real command.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from solvegraph.bench import DatasetError, Pinned, registry
from solvegraph.plugins import PluginManager
from tests.conftest import DATA, ROOT, keep_var, run_cli


class Mirror:
    """A loopback HTTP server for ``/<dataset>/<file>``, honouring ``Range``; it can cut a body short."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self.cut_after: int | None = None  # send only this many bytes of the next body, then close
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                mirror.requests.append((self.path, self.headers.get("Range")))
                body = mirror.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                start = 0
                if self.headers.get("Range"):
                    start = int(self.headers["Range"].removeprefix("bytes=").split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                rest = body[start:]
                if mirror.cut_after is not None:
                    rest, mirror.cut_after = rest[: mirror.cut_after], None
                    self.wfile.write(rest)
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(rest)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Mirror:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def slice_bytes(rel: str) -> bytes:
    return (DATA / rel).read_bytes()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def pin(name: str, file: str, data: bytes, fmt: str = "jsonl") -> Pinned:
    return Pinned(name, f"https://example.invalid/{file}", sha(data), len(data), "MIT", "cite", "rows", fmt)


@pytest.fixture
def registered() -> Iterator[list[str]]:
    """Pins a test registers, removed after it."""
    names: list[str] = []
    yield names
    for n in names:
        registry._registry.pop(n, None)


def test_every_builtin_pin_is_a_commit_pinned_url_with_a_hash() -> None:
    pins = registry.registered()
    assert {"gsm8k", "math", "gsm_hard", "asdiv", "svamp", "mamo_easy", "mamo_easy_original", "industryor"} <= set(pins)
    datasets = PluginManager().datasets()
    for p in pins.values():
        assert len(p.sha256) == 64 and int(p.sha256, 16) >= 0
        commit = p.url.split("/")[5]
        assert len(commit) == 40 and int(commit, 16) >= 0, p.url  # a commit, never a branch
        assert p.dataset in datasets, p.dataset  # each pinned file has a loader


def test_fetch_through_the_mirror_once_then_from_the_cache(cache: Path, registered: list[str]) -> None:
    data = slice_bytes("math/test.jsonl")
    registry.register(pin("math-slice", "test.jsonl", data))
    registered.append("math-slice")
    with Mirror({"/math-slice/test.jsonl": data}) as mirror:
        seen: list[int] = []
        path = registry.ensure("math-slice", mirror=mirror.url, cache=cache, progress=lambda n, total: seen.append(n))
        assert path.read_bytes() == data and sum(seen) == len(data)
        again = registry.ensure("math-slice", mirror=mirror.url, cache=cache)
    assert again == path
    assert len(mirror.requests) == 1  # nothing downloaded twice
    assert registry.verify("math-slice", cache) == ("ok", str(path))
    assert not list(path.parent.glob("*.part"))


def test_a_broken_download_resumes_with_a_range_request(cache: Path, registered: list[str]) -> None:
    data = slice_bytes("gsm8k/test.jsonl")
    registry.register(pin("gsm-slice", "test.jsonl", data))
    registered.append("gsm-slice")
    with Mirror({"/gsm-slice/test.jsonl": data}) as mirror:
        mirror.cut_after = 5000
        with pytest.raises(DatasetError, match=r"5000 bytes kept in .*run it again to resume"):
            registry.ensure("gsm-slice", mirror=mirror.url, cache=cache)
        part = cache / "gsm-slice" / "test.jsonl.part"
        assert part.stat().st_size == 5000
        path = registry.ensure("gsm-slice", mirror=mirror.url, cache=cache)
    assert path.read_bytes() == data
    assert mirror.requests[-1][1] == "bytes=5000-"  # only the rest was asked for
    assert not part.exists()


def test_a_hash_mismatch_is_an_error_and_nothing_is_kept(cache: Path) -> None:
    # The real gsm8k pin is the full file's hash: the 20-line slice under its name is not that file.
    served = {"/gsm8k/test.jsonl": slice_bytes("gsm8k/test.jsonl")}
    with Mirror(served) as mirror, pytest.raises(DatasetError, match="sha256 mismatch") as caught:
        registry.ensure("gsm8k", mirror=mirror.url, cache=cache)
    assert "\n" not in str(caught.value)
    assert not any((cache / "gsm8k").iterdir())  # no file, no .part


def test_a_json_array_is_converted_to_the_jsonl_the_loader_reads(cache: Path, registered: list[str]) -> None:
    lines = slice_bytes("svamp/SVAMP.jsonl").decode().splitlines()
    array = json.dumps([json.loads(line) for line in lines], indent=4).encode()  # as SVAMP.json upstream is
    registry.register(pin("svamp-slice", "SVAMP.json", array, "json-array"))
    registered.append("svamp-slice")
    with Mirror({"/svamp-slice/SVAMP.json": array}) as mirror:
        path = registry.ensure("svamp-slice", mirror=mirror.url, cache=cache)
    assert path.name == "SVAMP.jsonl"
    loaded = PluginManager().datasets()["svamp"].load(path)
    assert len(loaded.samples) == 10 and not loaded.skipped
    assert loaded.samples[0].id == "svamp-chal-1"


def cli_with_pin(pinned: dict, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The real command, in a process that first registers a pin (as a plugin's module would)."""
    code = (
        "import json, sys; from solvegraph.bench import Pinned, register; "
        f"register(Pinned(**json.loads({json.dumps(json.dumps(pinned))}))); "
        "from solvegraph.cli import main; sys.argv = ['solvegraph', *sys.argv[1:]]; main()"
    )
    full = {k: v for k, v in os.environ.items() if keep_var(k)} | env
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=full, cwd=ROOT, timeout=300
    )


def test_bench_name_downloads_on_first_use_through_the_mirror_setting(scripted, tmp_path: Path) -> None:
    data = slice_bytes("gsm8k/test.jsonl")
    pinned = {
        "dataset": "gsm8k", "url": "https://example.invalid/test.jsonl", "sha256": sha(data), "size": len(data),
        "license": "MIT", "citation": "Cobbe et al. 2021", "rows": "question, answer",
    }  # fmt: skip
    db = f"sqlite:///{tmp_path / 'm.sqlite'}"
    with Mirror({"/gsm8k/test.jsonl": data}) as mirror, scripted({"solver": ["ANSWER: 18"] * 10}) as model:
        env = {"XDG_CACHE_HOME": str(tmp_path / "xdg"), "SOLVEGRAPH_DATA_MIRROR": mirror.url}
        runs = []
        for _ in range(2):
            proc = cli_with_pin(
                pinned, "bench", "gsm8k", "--limit", "2", "--strategy", "direct", "--json",
                "--base-url", model.base_url, "--db", db, env=env,
            )  # fmt: skip
            assert proc.returncode == 0, proc.stderr
            runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        # data_mirror in solvegraph.toml does the same as the variable
        (tmp_path / "solvegraph.toml").write_text(f'[solvegraph]\ndata_mirror = "{mirror.url}"\n')
        got = cli_with_pin(
            pinned, "data", "get", "gsm8k", "--config", str(tmp_path / "solvegraph.toml"),
            env={"XDG_CACHE_HOME": str(tmp_path / "other")},
        )  # fmt: skip
    assert [r["n"] for r in runs] == [2, 2] and runs[0]["correct"] == 1  # gsm8k-1's gold is 18
    assert len(mirror.requests) == 2  # the bench's first run, and the other cache's get: never twice
    assert got.returncode == 0, got.stderr
    assert Path(got.stdout.strip()).read_bytes() == data


def test_data_commands_and_their_one_line_errors(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    listed = run_cli("data", "list", "--json", env=env)
    assert listed.returncode == 0
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert rows["math"]["downloaded"] is False and "microsoft/ToRA" in rows["math"]["url"]

    def one_line_error(proc: subprocess.CompletedProcess[str], text: str) -> None:
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert lines[-1].startswith("error:") and text in lines[-1] and "Traceback" not in proc.stderr

    one_line_error(run_cli("data", "get", "nope", env=env), "no pinned source for dataset 'nope'")
    one_line_error(run_cli("data", "path", "math", env=env), "not downloaded")
    one_line_error(run_cli("bench", "nope", env=env), "unknown dataset 'nope'")
    unreachable = {**env, "SOLVEGRAPH_DATA_MIRROR": "http://127.0.0.1:9"}
    one_line_error(run_cli("data", "get", "math", "-q", env=unreachable), "cannot download http://127.0.0.1:9/math/")
    with Mirror({"/svamp/SVAMP.json": slice_bytes("svamp/SVAMP.jsonl")}) as mirror:
        mismatch = run_cli("data", "get", "svamp", "-q", env={**env, "SOLVEGRAPH_DATA_MIRROR": mirror.url})
    one_line_error(mismatch, "sha256 mismatch")
    assert not any((tmp_path / "xdg/solvegraph/datasets/svamp").iterdir())
    one_line_error(run_cli("data", "verify", "svamp", env=env), "not downloaded")
    # A --data file of the wrong format: the upstream JSON array given where JSON Lines are read.
    lines = slice_bytes("svamp/SVAMP.jsonl").decode().splitlines()
    array = tmp_path / "SVAMP.json"
    array.write_text(json.dumps([json.loads(line) for line in lines], indent=4))
    db = f"sqlite:///{tmp_path / 'm.sqlite'}"
    wrong = run_cli("bench", "svamp", "--data", str(array), "--base-url", "http://127.0.0.1:9/v1", "--db", db, env=env)
    one_line_error(wrong, "a JSON array, not JSON Lines")


def test_verify_finds_a_changed_file(tmp_path: Path, registered: list[str]) -> None:
    data = slice_bytes("math/test.jsonl")
    cache = tmp_path / "xdg" / "solvegraph" / "datasets"
    registry.register(pin("math-slice", "test.jsonl", data))
    registered.append("math-slice")
    with Mirror({"/math-slice/test.jsonl": data}) as mirror:
        path = registry.ensure("math-slice", mirror=mirror.url, cache=cache)
    path.write_bytes(data + b"{}\n")
    status, detail = registry.verify("math-slice", cache)
    assert status == "mismatch" and "expected" in detail


@pytest.mark.parametrize(
    ("name", "rel", "n", "first"),
    [
        ("gsm_hard", "gsm_hard/test.jsonl", 5, ("gsm_hard-0", -9867630.0)),
        ("asdiv", "asdiv/test.jsonl", 6, ("asdiv-0", "9")),
        ("svamp", "svamp/SVAMP.jsonl", 10, ("svamp-chal-1", 51.0)),
        ("math", "math/test.jsonl", 12, ("math-0", "2")),
        ("industryor", "industryor/IndustryOR_fixedV2.json", 4, ("industryor-1", 219816.0)),
        ("mamo_easy_original", "mamo/MAMO_EasyLP.jsonl", 8, ("mamo_easy_original-1", 10000.0)),
    ],
)
def test_the_new_datasets_read_their_slices(name: str, rel: str, n: int, first: tuple) -> None:
    loaded = PluginManager().datasets()[name].load(DATA / rel)
    assert len(loaded.samples) == n and not loaded.skipped
    sample = loaded.samples[0]
    assert (sample.id, sample.answer) == first
    assert sample.question.strip()


COMPLEXOR = ("diet_problem", "knapsack_optimization")
COMPLEXOR_FILES = ("code_example.py", "description.txt", "sample.json")


def files_pin(name: str, files: list[tuple[str, str]], size: int) -> Pinned:
    listing = registry.listing(tuple(files)).encode()
    return Pinned(name, "https://example.invalid/set/", sha(listing), size, "-", "cite", "rows", "files", tuple(files))


def test_complexor_is_pinned_file_by_file_and_the_slice_is_those_files() -> None:
    pinned = registry.pinned("complexor")
    files = dict(pinned.files)
    assert pinned.format == "files" and len(files) == 54  # 18 problems x 3 files
    assert pinned.url.endswith("/9ce1fb7e522e930fe45100ce60661a4236514de6/dataset/ComplexOR/")
    for problem in COMPLEXOR:
        for f in COMPLEXOR_FILES:
            assert sha((DATA / "complexor" / problem / f).read_bytes()) == files[f"{problem}/{f}"]


def test_a_set_of_files_is_fetched_once_resumed_and_verified(cache: Path, registered: list[str]) -> None:
    bodies = {f"{p}/{f}": slice_bytes(f"complexor/{p}/{f}") for p in COMPLEXOR for f in COMPLEXOR_FILES}
    files = [(path, sha(body)) for path, body in bodies.items()]
    registry.register(files_pin("cx-slice", files, sum(map(len, bodies.values()))))
    registered.append("cx-slice")
    assert registry.local_path("cx-slice", cache) is None
    assert registry.verify("cx-slice", cache)[0] == "missing"
    with Mirror({f"/cx-slice/{path}": body for path, body in bodies.items()}) as mirror:
        mirror.cut_after = 100  # the first file breaks after 100 bytes
        with pytest.raises(DatasetError, match="100 bytes kept"):
            registry.ensure("cx-slice", mirror=mirror.url, cache=cache)
        seen: list[int] = []
        root = registry.ensure("cx-slice", mirror=mirror.url, cache=cache, progress=lambda n, t: seen.append(n))
        again = registry.ensure("cx-slice", mirror=mirror.url, cache=cache)
    assert root == again == cache / "cx-slice" and registry.local_path("cx-slice", cache) == root
    assert sum(seen) == sum(map(len, bodies.values()))
    assert mirror.requests[1] == (f"/cx-slice/{files[0][0]}", "bytes=100-")  # only the rest of the broken file
    assert len(mirror.requests) == 1 + len(files)  # each file once (the broken one twice), none on the last call
    for path, body in bodies.items():
        assert (root / path).read_bytes() == body
    loaded = PluginManager().datasets()["complexor"].load(root)
    assert sorted(s.id for s in loaded.samples) == [f"complexor-{p}" for p in COMPLEXOR]
    assert registry.verify("cx-slice", cache) == ("ok", f"{root} (6 files)")
    (root / files[-1][0]).write_bytes(b"[]")
    status, detail = registry.verify("cx-slice", cache)
    assert status == "mismatch" and files[-1][0] in detail


def test_a_bad_file_of_a_set_is_deleted_and_the_good_ones_stay(cache: Path, registered: list[str]) -> None:
    files = [("a/one.txt", sha(b"one\n")), ("b/two.txt", sha(b"two\n"))]
    registry.register(files_pin("two-files", files, 8))
    registered.append("two-files")
    with Mirror({"/two-files/a/one.txt": b"one\n", "/two-files/b/two.txt": b"TWO\n"}) as mirror:
        with pytest.raises(DatasetError, match=r"b/two\.txt: sha256 mismatch"):
            registry.ensure("two-files", mirror=mirror.url, cache=cache)
        assert (cache / "two-files/a/one.txt").read_bytes() == b"one\n"
        assert not (cache / "two-files/b").exists() or not any((cache / "two-files/b").iterdir())
        mirror.files["/two-files/b/two.txt"] = b"two\n"
        registry.ensure("two-files", mirror=mirror.url, cache=cache)
    assert [r[0] for r in mirror.requests] == ["/two-files/a/one.txt", "/two-files/b/two.txt", "/two-files/b/two.txt"]


def test_a_set_whose_list_does_not_match_its_hash_or_leaves_its_folder_is_refused() -> None:
    files = (("a.txt", sha(b"a")),)
    with pytest.raises(DatasetError, match="its list of files hashes to"):
        registry.register(Pinned("bad", "https://example.invalid/", "0" * 64, 1, "-", "-", "-", "files", files))
    out = (("../escape.txt", sha(b"a")),)
    with pytest.raises(DatasetError, match="inside its folder"):
        registry.register(files_pin("bad", list(out), 1))
    assert "bad" not in registry.registered()


def test_the_builtin_lists_are_the_packaged_manifests() -> None:
    for name in ("complexor", "dcp_bench_open"):
        p = registry.pinned(name)
        assert p.files == registry.manifest(name)
        assert sha(registry.listing(p.files).encode()) == p.sha256

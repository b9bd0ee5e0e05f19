"""The HTML report renders in a real headless Chromium (installed by .ci/run from Debian's packages)."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from tests.conftest import DATA, run_cli

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not found:
        pytest.fail("chromium is not installed: apt-get install -y chromium (see .ci/run)")
    return found


def test_html_report_renders_in_chromium(scripted, tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite"

    def solver(body):  # by question, not by arrival: -j 2 may take the samples in either order
        q = body["messages"][-1]["content"]
        return "ANSWER: 18" if "Janet" in q else "ANSWER: 3" if "robe" in q else "ANSWER: 1"

    with scripted({"solver": [solver]}) as model:
        proc = run_cli(
            "bench",
            "gsm8k",
            "--data",
            str(DATA / "gsm8k/test.jsonl"),
            "--limit",
            "8",
            "--strategy",
            "direct",
            "-j",
            "2",
            "--json",
            "--base-url",
            model.base_url,
            "--db",
            f"sqlite:///{db}",
        )
    assert proc.returncode == 0, proc.stderr
    run_id = json.loads(proc.stdout.strip().splitlines()[-1])["run_id"]
    html = tmp_path / "report.html"
    assert run_cli("bench", "report", run_id, "--html", str(html), "--db", f"sqlite:///{db}").returncode == 0

    chromium = _chromium()
    profile = tmp_path / "profile"
    dom = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", html.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    page = dom.stdout
    assert "<svg" in page and "seconds per sample" in page, dom.stderr[-500:]  # the histogram has its axis
    samples = page[page.index('class="samples"') :]
    assert "Janet" in samples, "each sample shows its question"
    assert "<td>18</td>" in samples and '"18"' not in samples, "and its gold, as the value"
    assert samples.count("(none)") < 8 and samples.count("correct") >= 1, "and its answer and outcome"
    assert "unchecked" in samples, "and how the answer was accepted"
    assert "<script" not in page, "a saved report runs nothing"
    two = tmp_path / "two.html"
    assert run_cli("bench", "report", run_id, run_id, "--html", str(two), "--db", f"sqlite:///{db}").returncode == 0
    assert "Accuracy per strategy" in two.read_text()
    png = tmp_path / "report.png"
    subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--screenshot={png}",
            "--window-size=1000,1400",
            html.as_uri(),
        ],
        capture_output=True,
        timeout=120,
    )
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1000, 1400)
    assert len(data) > 20_000, "a blank page compresses to almost nothing; the plots make it larger"
    (Path(__file__).parent.parent / "fixtures" / "last_report.png").write_bytes(data)

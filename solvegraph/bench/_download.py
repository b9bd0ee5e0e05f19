"""One file downloaded once: resumable (HTTP ``Range``), verified by sha256, never kept half-made.

httpx streams the body into ``NAME.part`` beside the destination. A broken transfer leaves the
``.part`` file, and the next attempt asks only for the rest (a server that ignores ``Range`` answers
200 and the file is fetched again from the start). Once complete, the sha256 is checked: a match is
renamed into place (atomic, so a reader sees the whole file or none); a mismatch deletes the
``.part`` file and is an error, so nothing that failed its check is ever kept.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .datasets import DatasetError

if TYPE_CHECKING:
    import httpx

Progress = Callable[[int, int | None], None]  # (bytes just written, total bytes or None)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _why(exc: httpx.HTTPError) -> str:
    cause = exc.__cause__ or exc.__context__
    text = str(exc) or type(exc).__name__
    return f"{text} ({cause})" if cause is not None and str(cause) and str(cause) not in text else text


def download(
    url: str,
    dest: Path,
    sha256: str,
    *,
    size: int | None = None,
    progress: Progress | None = None,
    timeout: float = 60.0,
    client: httpx.Client | None = None,
) -> Path:
    """``url`` into ``dest``, resuming a ``.part`` file left by an earlier attempt; raises DatasetError
    (one line: the URL and why) on a network error, an HTTP error or a sha256 mismatch. ``client``: an
    open one to reuse (the many files of one set over one connection); else one of its own."""
    import httpx  # only when something is downloaded: listing datasets or plugins never loads it

    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    # identity: the bytes on the wire are the file's, so an offset into the .part file is an offset into it
    headers = {"Accept-Encoding": "identity"} | ({"Range": f"bytes={offset}-"} if offset else {})
    try:
        with contextlib.ExitStack() as stack:
            if client is None:
                client = stack.enter_context(httpx.Client(follow_redirects=True, timeout=timeout))
            response = stack.enter_context(client.stream("GET", url, headers=headers))
            if response.status_code == 416 and offset:  # the .part file is already whole: check it
                pass
            elif response.status_code == 206 and offset:
                _write(response, part, "ab", offset, size, progress)
            elif response.status_code == 200:
                _write(response, part, "wb", 0, size, progress)
            else:
                raise DatasetError(f"cannot download {url}: HTTP {response.status_code} {response.reason_phrase}")
    except httpx.HTTPError as exc:
        kept = part.stat().st_size if part.exists() else 0
        again = f"; {kept} bytes kept in {part}, run it again to resume" if kept else ""
        raise DatasetError(f"cannot download {url}: {_why(exc)}{again}") from None
    got = sha256_of(part)
    if got != sha256:
        part.unlink(missing_ok=True)
        raise DatasetError(
            f"{url}: sha256 mismatch (expected {sha256}, got {got}); the download was deleted, nothing was kept"
        )
    part.replace(dest)
    return dest


def _write(
    response: httpx.Response, part: Path, mode: str, offset: int, size: int | None, progress: Progress | None
) -> None:
    length = response.headers.get("content-length")
    total = offset + int(length) if length and length.isdigit() else size
    if progress is not None and offset:
        progress(offset, total)
    with part.open(mode) as f:
        for chunk in response.iter_raw():  # as it arrives: a broken transfer keeps all it had received
            f.write(chunk)
            if progress is not None:
                progress(len(chunk), total)

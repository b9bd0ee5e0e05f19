"""``solvegraph data``: the built-in datasets' pinned sources, fetched once into the user cache folder."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table

from ..errors import SolvegraphError
from ._console import console

data_app = typer.Typer(
    help="Benchmark datasets with pinned sources: list them, fetch one (once, sha256-checked), verify, locate.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
out = console()
err = console(stderr=True)

ConfigOpt = Annotated[str | None, typer.Option("--config", help="A solvegraph.toml to read (data_mirror).")]


def mirror_setting(config: str | None) -> str | None:
    """The data mirror: $SOLVEGRAPH_DATA_MIRROR, else ``data_mirror`` in solvegraph.toml, else none."""
    from ._settings import settings_with

    return settings_with({}, config).data_mirror


@contextlib.contextmanager
def download_bar(name: str, quiet: bool = False) -> Iterator[Callable[[int, int | None], None]]:
    """A progress bar on stderr for one download (bytes, speed, time left); silent when ``quiet``."""
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=quiet,
        transient=False,
    )
    task = progress.add_task(f"downloading {name}", total=None)

    def advance(n: int, total: int | None) -> None:
        progress.update(task, advance=n, total=total)

    with progress:
        yield advance


def fetch(name: str, mirror: str | None, quiet: bool = False) -> str:
    """The dataset's local JSONL file, downloaded first when this is its first use."""
    from ..bench import registry

    found = registry.local_path(name)
    if found is not None:
        return str(found)
    registry.pinned(name)  # an unknown name is one line before any bar is drawn
    with download_bar(name, quiet) as advance:
        path = registry.ensure(name, mirror=mirror, progress=advance)
    return str(path)


@data_app.command("list")
def data_list(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON list on stdout.")] = False,
) -> None:
    """Every dataset with a pinned source: whether it is downloaded, its license and where it comes from."""
    from ..bench import registry

    rows = [
        {
            "name": p.dataset,
            "downloaded": registry.local_path(p.dataset) is not None,
            "license": p.license,
            "url": p.url,
            "sha256": p.sha256,
        }
        for p in registry.registered().values()
    ]
    if as_json:
        print(json.dumps(rows))
        return
    table = Table(box=None, pad_edge=False)
    for column in ("dataset", "here", "license"):
        table.add_column(column)
    table.add_column("source (pinned)", overflow="fold")  # a URL is never cut short
    for p in registry.registered().values():
        table.add_row(p.dataset, "yes" if registry.local_path(p.dataset) else "-", p.license, p.url)
    out.print(table, soft_wrap=True)


@data_app.command("get")
def data_get(
    name: Annotated[str, typer.Argument(help="A dataset name (see: solvegraph data list).")],
    config: ConfigOpt = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No progress bar.")] = False,
) -> None:
    """Download a dataset once into the user cache folder (resumable; checked against its sha256) and
    print the path of the file `bench NAME` reads. Already there: nothing is downloaded."""
    from ..bench import registry

    p = registry.pinned(name)
    path = fetch(name, mirror_setting(config), quiet)
    err.print(f"{p.dataset}: {p.rows}", markup=False, highlight=False, soft_wrap=True)
    err.print(f"license: {p.license}; cite: {p.citation}", markup=False, highlight=False, soft_wrap=True)
    print(path)


@data_app.command("verify")
def data_verify(
    name: Annotated[str | None, typer.Argument(help="One dataset [default: every downloaded one].")] = None,
) -> None:
    """Check downloaded files against their pinned sha256 again; exit 1 on any mismatch."""
    from ..bench import registry

    names = [name] if name else [n for n in registry.registered() if registry.local_path(n) is not None]
    if name is None and not names:
        err.print("no dataset is downloaded yet (solvegraph data get NAME)", markup=False, highlight=False)
        return
    bad = 0
    for n in names:
        status, detail = registry.verify(n)
        if status != "ok":
            bad += 1
        out.print(f"{n}: {status} {detail}", markup=False, highlight=False, soft_wrap=True)
    if name and bad and registry.verify(name)[0] == "missing":
        raise SolvegraphError(f"dataset {name} is not downloaded: solvegraph data get {name}")
    if bad:
        raise typer.Exit(1)


@data_app.command("path")
def data_path(name: Annotated[str, typer.Argument(help="A dataset name.")]) -> None:
    """Print the local file `bench NAME` reads; an error if it is not downloaded yet."""
    from ..bench import registry

    found = registry.local_path(name)
    if found is None:
        raise SolvegraphError(f"dataset {name} is not downloaded: solvegraph data get {name}")
    print(found)

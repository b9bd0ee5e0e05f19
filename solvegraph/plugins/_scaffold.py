"""``solvegraph plugins new NAME``: a ready plugin project, correct by construction."""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path
from string import Template

from ..errors import SolvegraphError

_FILES = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "plugin.py.tmpl": "solvegraph_{name}/plugin.py",
    "test_plugin.py.tmpl": "tests/test_{name}.py",
}


def new_plugin(name: str, parent: Path, taken: set[str] | frozenset[str] = frozenset()) -> Path:
    """Write the plugin project into ``parent/NAME`` and return its folder.

    ``taken``: the names of the tools and plugins already installed. A new plugin of the same name would
    shadow a built-in (``python``) or be shadowed, depending on load order: refused.
    """
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,40}", name):
        raise SolvegraphError(f"plugin name {name!r} must be lowercase letters, digits and '_', starting with a letter")
    if name in taken:
        raise SolvegraphError(f"a tool or plugin named {name!r} is already installed; choose another name")
    target = parent / name
    if target.exists():
        raise SolvegraphError(f"{target} already exists; choose another name or --dir")
    source = files("solvegraph.plugins") / "scaffold"
    for template, dest in _FILES.items():
        path = target / dest.format(name=name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template((source / template).read_text(encoding="utf-8")).substitute(name=name))
    (target / f"solvegraph_{name}" / "__init__.py").write_text(f'"""solvegraph plugin: {name}."""\n')
    return target

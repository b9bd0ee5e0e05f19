"""Discovering plugins and collecting their tools, without letting one break the rest.

Every plugin, built-in or outside, comes in through the ``solvegraph`` entry-point
group. One that fails to import, register or produce valid tools is recorded with
its error, logged as a single warning line, and skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any, cast

import jsonschema
import pluggy

from ..errors import ConfigError, SolvegraphError
from . import hookspecs
from ._bench import Dataset, Scorer
from ._options import ToolOptions, build_options
from ._tool import Tool, ToolSession
from ._verifier import CertificateChecker, Verifier

log = logging.getLogger("solvegraph.plugins")

ENTRY_POINT_GROUP = "solvegraph"


@dataclass
class PluginInfo:
    name: str
    source: str  # "entry point <dist>" or "registered"
    ok: bool = True
    error: str = ""
    tools: list[str] = field(default_factory=list)
    options: type[ToolOptions] | None = None  # its options model, from solvegraph_options()


class PluginManager:
    """Loads plugins and exposes their tools and prompt fragments."""

    def __init__(self, *, load_entry_points: bool = True) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self._tools: dict[str, Tool] | None = None
        self._verifiers: list[Verifier] | None = None
        self._allowed: frozenset[str] | None = None  # restrict(): only these tools are offered
        if load_entry_points:
            self.load_entry_points()

    # -- loading -----------------------------------------------------------
    def load_entry_points(self) -> None:
        # Built-ins first, so an outside plugin can never take a built-in tool's name.
        def order(ep: EntryPoint) -> tuple[bool, str]:
            return (ep.dist is None or ep.dist.name != "solvegraph", ep.name)

        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=order):
            self._load_entry_point(ep)

    def _load_entry_point(self, ep: EntryPoint) -> None:
        dist = ep.dist.name if ep.dist is not None else "?"
        source = f"entry point from {dist}"
        try:
            plugin = ep.load()
        except Exception as exc:
            self._fail(ep.name, source, f"import failed: {type(exc).__name__}: {exc}")
            return
        self.register(plugin, ep.name, source=source)

    def register(self, plugin: Any, name: str, *, source: str = "registered") -> None:
        if name in self.plugins and self.plugins[name].ok:
            self._fail(name, source, f"another plugin is already registered as '{name}'", replace=False)
            return
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:
            self._fail(name, source, f"registration failed: {type(exc).__name__}: {exc}")
            return
        info = self.plugins[name] = PluginInfo(name=name, source=source)
        self._tools = None
        self._verifiers = None
        self._declare(plugin, info)

    def _declare(self, plugin: Any, info: PluginInfo) -> None:
        """Take a plugin's options model, services and interrupt hook (a bad declaration is reported, not raised)."""
        hooks = {impl.plugin_name: impl for impl in self.pm.hook.solvegraph_options.get_hookimpls()}
        problems = []
        if info.name in hooks:
            try:
                model = hooks[info.name].function()
            except Exception as exc:
                model = None
                problems.append(f"solvegraph_options() raised {type(exc).__name__}: {exc}")
            if model is not None and not (isinstance(model, type) and issubclass(model, ToolOptions)):
                problems.append(f"solvegraph_options() must return a ToolOptions subclass, not {model!r}")
            elif model is not None and model.section != info.name:
                problems.append(f"its options model's section is {model.section!r}; it must be the plugin's name")
            elif model is not None:
                info.options = model
        for impl in self.pm.hook.solvegraph_services.get_hookimpls():
            if impl.plugin_name != info.name:
                continue
            try:
                offered = dict(cast(dict[Any, Any], impl.function() or {}))
            except Exception as exc:
                problems.append(f"solvegraph_services() raised {type(exc).__name__}: {exc}")
                continue
            for interface, factory in offered.items():
                ToolSession.provide(interface, factory)
        for impl in self.pm.hook.solvegraph_interrupt.get_hookimpls():
            if impl.plugin_name == info.name:
                ToolSession._interrupters[info.name] = _with_session(impl)
        for problem in problems:
            log.warning("plugin '%s': %s", info.name, problem)
        info.error = "; ".join(filter(None, [info.error, *problems]))

    # -- options and lifecycle ---------------------------------------------------
    def options_models(self) -> dict[str, type[ToolOptions]]:
        """Each loaded plugin's options model, by plugin name (its ``[tools.NAME]`` section)."""
        return {name: info.options for name, info in self.plugins.items() if info.ok and info.options is not None}

    def check_options(self, sections: dict[str, dict[str, Any]]) -> dict[str, ToolOptions]:
        """Every plugin's options checked against its model, so a bad value stops the command at its start.

        A section for no installed plugin is refused too (a typo in ``[tools.NAME]`` must not pass silently),
        unless a plugin of that name failed to load: that failure was already reported.
        """
        models = self.options_models()
        for name in sections:
            if name not in models and name not in self.plugins:
                known = ", ".join(sorted(models)) or "none"
                raise ConfigError(
                    f"[tools.{name}]: no installed plugin is named {name!r} (plugins with options: {known})"
                )
            if name in self.plugins and name not in models and self.plugins[name].ok:
                raise ConfigError(f"[tools.{name}]: the plugin {name!r} takes no options")
        return {name: build_options(model, sections.get(name, {})) for name, model in models.items()}

    def warm(self, options: dict[str, Any], concurrency: int) -> None:
        """Ask every plugin to get ready for ``concurrency`` sessions with these session options."""
        session = ToolSession(options=options)
        for impl in self.pm.hook.solvegraph_warm.get_hookimpls():
            try:
                given = {"session": session, "concurrency": concurrency}
                impl.function(**{k: v for k, v in given.items() if k in impl.argnames})
            except Exception as exc:
                log.warning("plugin '%s': warm-up failed: %s", impl.plugin_name, exc)

    def close(self) -> None:
        """Ask every plugin to free what it keeps for the process (warm kernels, ...). Never raises."""
        for impl in self.pm.hook.solvegraph_close.get_hookimpls():
            try:
                impl.function()
            except Exception as exc:
                log.warning("plugin '%s': close failed: %s", impl.plugin_name, exc)

    def _fail(self, name: str, source: str, error: str, *, replace: bool = True) -> None:
        log.warning("plugin '%s' skipped: %s", name, error)
        key = name if replace or name not in self.plugins else f"{name} ({source})"
        self.plugins[key] = PluginInfo(name=name, source=source, ok=False, error=error)

    # -- tools -------------------------------------------------------------
    def tools(self) -> dict[str, Tool]:
        """All valid tools by name; invalid ones and clashes are reported, not raised."""
        if self._tools is not None:
            return self._tools
        tools: dict[str, Tool] = {}
        for impl in self.pm.hook.solvegraph_tools.get_hookimpls():
            info = self.plugins.setdefault(impl.plugin_name, PluginInfo(impl.plugin_name, "registered"))
            try:
                offered: list[Any] = list(cast(Iterable[Any], impl.function() or []))
            except Exception as exc:
                self._fail(info.name, info.source, f"solvegraph_tools() raised {type(exc).__name__}: {exc}")
                continue
            for t in offered:
                problem = tool_problem(t)
                if problem is None and t.name in tools:
                    problem = f"tool name '{t.name}' clashes with plugin '{tools[t.name].plugin}'"
                if problem is not None:
                    log.warning("plugin '%s': tool skipped: %s", info.name, problem)
                    info.error = "; ".join(filter(None, [info.error, problem]))
                    continue
                t.plugin = info.name
                tools[t.name] = t
                info.tools.append(t.name)
        if self._allowed is not None:
            tools = {name: t for name, t in tools.items() if name in self._allowed}
        self._tools = tools
        return tools

    def restrict(self, names: Iterable[str]) -> None:
        """Offer only the tools ``names`` from now on (``solvegraph.solve(..., tools=["python"])``).

        The model is shown only these, a call to any other is a tool error, and a plugin none of whose
        tools is left adds no prompt fragment (milp's would send the planner to a tool it cannot call).
        Plugins' verifiers, datasets and scorers stay. An unknown name is a :class:`SolvegraphError`
        that lists the tools the loaded plugins offer.
        """
        wanted = list(names)
        known = self.tools()
        unknown = [n for n in wanted if n not in known]
        if unknown:
            raise SolvegraphError(
                f"unknown tool{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
                f"the loaded plugins offer: {', '.join(sorted(known)) or 'none'}"
            )
        self._allowed = frozenset(wanted)
        self._tools = {name: t for name, t in known.items() if name in self._allowed}

    def verifiers(self) -> list[Verifier]:
        """Every plugin's verifier checks; a plugin whose hook fails is reported and skipped."""
        if self._verifiers is not None:
            return self._verifiers
        found: list[Verifier] = []
        for impl in self.pm.hook.solvegraph_verifiers.get_hookimpls():
            try:
                offered: list[Any] = list(cast(Iterable[Any], impl.function() or []))
            except Exception as exc:
                log.warning("plugin '%s': verifiers skipped: %s", impl.plugin_name, exc)
                continue
            for v in offered:
                if isinstance(v, Verifier) and callable(v.check):
                    v.plugin = impl.plugin_name
                    found.append(v)
                else:
                    log.warning("plugin '%s': %r is not a solvegraph Verifier; skipped", impl.plugin_name, v)
        self._verifiers = found
        return found

    def _collect(self, hook: str, kind: type[Any], label: str, key: str = "name") -> dict[str, Any]:
        """Named objects (by their ``key`` attribute) from every implementation of ``hook``; bad ones and
        clashes are skipped with a warning."""
        found: dict[str, Any] = {}
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            try:
                offered: list[Any] = list(cast(Iterable[Any], impl.function() or []))
            except Exception as exc:
                log.warning("plugin '%s': %s skipped: %s", impl.plugin_name, label, exc)
                continue
            for item in offered:
                if not isinstance(item, kind):
                    log.warning("plugin '%s': %r is not a %s; skipped", impl.plugin_name, item, kind.__name__)
                elif getattr(item, key) in found:
                    log.warning(
                        "plugin '%s': %s '%s' clashes with plugin '%s'; skipped",
                        impl.plugin_name,
                        label,
                        getattr(item, key),
                        found[getattr(item, key)].plugin,
                    )
                else:
                    item.plugin = impl.plugin_name
                    found[getattr(item, key)] = item
        return found

    def datasets(self) -> dict[str, Dataset]:
        return self._collect("solvegraph_datasets", Dataset, "dataset")

    def scorers(self) -> dict[str, Scorer]:
        return self._collect("solvegraph_scorers", Scorer, "scorer")

    def certificate_checkers(self) -> dict[str, CertificateChecker]:
        """The certificate checkers by the ``kind`` they re-check (``solvegraph verify``)."""
        return self._collect("solvegraph_certificate_checkers", CertificateChecker, "certificate checker", key="kind")

    def prompt_fragments(self, agent: str) -> list[str]:
        out = []
        for impl in self.pm.hook.solvegraph_prompt_fragments.get_hookimpls():
            offered = self.plugins[impl.plugin_name].tools if impl.plugin_name in self.plugins else []
            if self._allowed is not None and offered and not self._allowed.intersection(offered):
                continue  # restricted away: its advice names tools the model cannot call
            try:
                fragments = impl.function() or {}
            except Exception as exc:
                log.warning("plugin '%s': prompt fragments skipped: %s", impl.plugin_name, exc)
                continue
            if isinstance(fragments, dict) and isinstance(fragments.get(agent), str):
                out.append(fragments[agent])
        return out


def _with_session(impl: Any) -> Any:
    """A hook implementation called with ``session`` if it declares it (pluggy lets it declare fewer arguments)."""
    wants = "session" in impl.argnames
    return lambda session: impl.function(session=session) if wants else impl.function()


def tool_problem(t: Any) -> str | None:
    """Why ``t`` is not a usable tool, or None when it is."""
    if not isinstance(t, Tool):
        return f"{t!r} is not a solvegraph Tool"
    if not t.name or not t.name.replace("_", "").replace("-", "").isalnum():
        return f"tool name {t.name!r} must be non-empty letters, digits, '_' or '-'"
    if not t.description.strip():
        return f"tool '{t.name}' has no description"
    try:
        jsonschema.Draft202012Validator.check_schema(t.input_schema)
    except jsonschema.SchemaError as exc:
        return f"tool '{t.name}' has an invalid input schema: {exc.message}"
    if t.input_schema.get("type") != "object":
        return f"tool '{t.name}' input schema must have type 'object'"
    return None

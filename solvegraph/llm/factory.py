"""Build the model client from resolved settings, starting the embedded server if needed."""

from __future__ import annotations

from pathlib import Path

from ..config import ROLES, Settings
from ..errors import ConfigError
from ._profiles import PROFILES, profile_for
from .client import ModelClient
from .embedded import MODEL_ALIAS, embedded_server


def make_client(settings: Settings) -> ModelClient:
    identity: str | None = None
    model: str | None
    api_key: str | None
    if settings.uses_embedded:
        if settings.model and settings.model != MODEL_ALIAS:
            raise ConfigError(
                f"--model {settings.model!r} names a model of an endpoint, but no --base-url is set: the embedded "
                f"server runs {MODEL_ALIAS!r} (another GGUF file: --model-path FILE.gguf)"
            )
        server = embedded_server(settings.model_path)
        base_url, api_key = server.base_url, "sk-no-key"
        model = settings.model or MODEL_ALIAS
        identity = f"embedded:{model_file_identity(server.model_path)}#{model}"
    else:
        assert settings.base_url is not None
        base_url, api_key = settings.base_url, settings.api_key
        model = settings.model  # None: the endpoint's first model
    client = ModelClient(
        base_url=base_url,
        model=model,
        api_key=api_key,
        timeout=settings.request_timeout,
        max_retries=settings.max_retries,
        max_connections=settings.max_connections,
        rate_limit_patience=settings.rate_limit_patience,
        temperature=settings.temperature,
        max_tokens=settings.max_tokens,
        tool_mode=settings.tool_mode,
        max_tokens_limit=settings.max_tokens_limit or None,
        resend_reasoning=settings.resend_reasoning,
        identity=identity,
        price=settings.price,
    )
    if settings.model and not settings.uses_embedded and settings.check_model:
        # Named by the user (or a resumed run): checked against what the endpoint serves.
        client.check_model()
    if settings.model_profile not in ("auto", "none", *PROFILES):
        known = ", ".join(["auto", "none", *PROFILES])
        raise ConfigError(f"--model-profile {settings.model_profile!r} is not a profile (known: {known})")
    profile = profile_for(client.model, settings.model_profile)
    if profile is not None:  # the model's name is known only now (with no --model: the endpoint's first)
        client.use_profile(profile, keep=frozenset(settings.sources))
    return client


def make_role_clients(settings: Settings) -> dict[str, ModelClient]:
    """A client per role that has its own endpoint or model ([models.ROLE], --verifier-model): the planner,
    verifier and refiner; a role not configured asks the solver's client."""
    clients: dict[str, ModelClient] = {}
    for role in ROLES:
        own = settings.for_role(role)
        if own is not None:
            if own.uses_embedded and not own.model:
                continue  # nothing of its own: the solver's embedded model
            clients[role] = make_client(own)
    return clients


def model_file_identity(path: Path) -> str:
    """The GGUF file as the answers' source: its resolved path, size and modification time."""
    resolved = path.resolve()
    stat = resolved.stat()
    return f"{resolved}:{stat.st_size}:{stat.st_mtime_ns}"

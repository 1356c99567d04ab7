"""One Settings object for the whole product, read from ``TD_*`` environment variables."""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import time
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

VERSION = "0.1.0"

_LISTEN_PART = re.compile(r"(?:([0-9]{1,5}(?:\.[0-9]{1,3})?)s|([0-9]{1,3}(?:\.[0-9]{1,3})?)%)")  # ASCII digits only


def parse_min_listen(spec: str | None) -> tuple[float | None, float | None]:
    """``TD_MIN_LISTEN`` as (minimum seconds, minimum fraction of each clip); (None, None) when off.

    Accepted: ``3s``, ``2.5s``, ``50%``, or one of each joined by ``|`` (``3s|50%``: each clip
    needs whichever is shorter). Empty, ``off``, ``none`` or ``0`` turn the gate off.

    Raises:
        ValueError: anything else, saying what is accepted.
    """
    text = (spec or "").strip().lower()
    if text in ("", "off", "none", "0"):
        return None, None
    seconds: float | None = None
    fraction: float | None = None
    parts = [p.strip() for p in text.split("|")]
    for part in parts:
        match = _LISTEN_PART.fullmatch(part)
        if match is None or len(parts) > 2:
            raise ValueError(f"TD_MIN_LISTEN={spec!r} is not a listen gate: use e.g. '3s', '50%' or '3s|50%' "
                             "(seconds above 0 up to 86400, a percentage above 0 up to 100), or leave it unset")
        if match.group(1) is not None:
            if seconds is not None:
                raise ValueError(f"TD_MIN_LISTEN={spec!r} gives seconds twice; use e.g. '3s|50%'")
            seconds = float(match.group(1))
            if not 0 < seconds <= 86_400:
                raise ValueError(f"TD_MIN_LISTEN={spec!r}: seconds must be above 0 and at most 86400")
        else:
            if fraction is not None:
                raise ValueError(f"TD_MIN_LISTEN={spec!r} gives a percentage twice; use e.g. '3s|50%'")
            fraction = float(match.group(2)) / 100
            if not 0 < fraction <= 1:
                raise ValueError(f"TD_MIN_LISTEN={spec!r}: the percentage must be above 0 and at most 100")
    return seconds, fraction


class Settings(BaseSettings):
    """Runtime configuration. Every field has a default that works with no configuration."""

    model_config = SettingsConfigDict(env_prefix="TD_", extra="ignore")

    data_dir: Path = Field(default=Path("./data"), description="Database, audio and exports live here.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; SQLite file under data_dir if unset.")
    base_model: str = Field(default="facebook/musicgen-small", description="HF id, local dir, or 'tiny'.")
    api_url: str = Field(default="http://127.0.0.1:8000/api", description="The API the UI and CLI talk to.")
    api_token: str | None = Field(default=None, description="The personal access token (td_...) that the training "
                                 "CLI and scripts send as Authorization: Bearer; the server keeps no shared token.")
    auth: Literal["on", "off"] = Field(default="on", description="Sign-in on /api and the UI. 'off' (every request "
                                       "is a local admin) is allowed only while the app binds loopback addresses.")
    admin_user: str | None = Field(default=None, description="With admin_password: create (or refresh) this admin "
                                   "at start, without a browser.")
    admin_password: str | None = Field(default=None, repr=False)
    session_idle_hours: float = Field(default=12.0, gt=0, le=24 * 365, description="A session unused this long ends.")
    session_max_days: float = Field(default=7.0, gt=0, le=3650, description="A session ends this long after sign-in.")
    secret_key: str | None = Field(default=None, repr=False, description="Signs stream URLs; default: generated "
                                   "once into <data dir>/secret_key (0600) so every process shares it.")
    oidc_issuer: str | None = Field(default=None, description="OpenID Connect issuer URL (single sign-on).")
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = Field(default=None, repr=False)
    oidc_redirect_uri: str | None = Field(default=None, description="The callback URL registered at the provider; "
                                          "default: <the origin the request came to>/api/auth/oidc/callback.")
    oidc_default_role: Literal["rater", "trainer", "admin"] = Field(
        default="rater", description="The role of a user whom single sign-on creates (their first sign-in).")
    readiness_threshold: int = Field(default=50, ge=1, le=10_000_000)
    readiness_min_rating: int = Field(default=4, ge=1, le=5)
    adapter_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=list, description="Adapters must live under one of these."
    )
    host: str = Field(default="127.0.0.1", description="Bind address of the backend / API.")
    port: int = Field(default=8000, ge=1, le=65535)
    worker: bool = Field(default=True, description="Run the generation worker inside the app process.")
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    ratings_per_clip: int = Field(default=3, ge=1, le=100,
                                  description="The listening queue offers a clip until it has this many ratings.")
    queue_lease_s: float = Field(default=120.0, ge=1.0, le=86_400.0, description="The listening queue reserves the "
                                 "clip it serves a rater for this long (or until they rate it), so racing raters "
                                 "do not push a clip past TD_RATINGS_PER_CLIP.")
    max_training_runs: int = Field(default=1, ge=0, le=64, description="Training runs one worker executes at once "
                                   "(0 = this worker trains nothing).")
    broker_url: str | None = Field(
        default=None, description="Celery broker (redis://...). Set: the app runs no worker of its own and sends "
        "generation jobs and training runs to `python -m training_dashboard.worker` processes.")
    worker_token: str | None = Field(default=None, description="Shared secret of the app and its workers: the only "
                                     "credential allowed on /api/worker/*.")
    worker_lease_s: float = Field(default=30.0, ge=1.0, le=3600.0, description="A job or run whose worker has not "
                                  "been heard of for this long is sent to the queue again.")
    max_upload_bytes: int = Field(default=4 * 1024**3, ge=1024, description="Largest upload a worker may send "
                                  "(clips, checkpoints, adapters).")
    worker_name: str | None = Field(default=None, description="This worker's name (default host:pid).")
    require_evaluation: bool = Field(
        default=False, description="Activating an adapter needs a completed evaluation vs base with verdict 'better'.")
    min_listen: str | None = Field(
        default=None, description="The listen gate: every clip of a rating or vote must have been heard this long "
        "first ('3s', '50%', or '3s|50%': whichever is shorter). Unset: off.")

    @field_validator("min_listen")
    @classmethod
    def _listen_gate(cls, value: str | None) -> str | None:
        seconds, fraction = parse_min_listen(value)  # refuses to start on a bad value
        if seconds is None and fraction is None:
            return None
        return "|".join(part for part in (seconds is not None and f"{seconds:g}s",
                                          fraction is not None and f"{fraction * 100:g}%") if part)

    @field_validator("adapter_roots", "cors_origins", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        # Accept "a:b" / "a,b" from the environment as well as JSON lists.
        if isinstance(value, str):
            if value.strip().startswith("["):
                import json

                return json.loads(value)
            sep = "," if "," in value or value.startswith("http") else os.pathsep
            return [part.strip() for part in value.split(sep) if part.strip()]
        return value

    @property
    def listen_gate(self) -> tuple[float | None, float | None]:
        """The listen gate as (minimum seconds, minimum fraction); (None, None) when off."""
        return parse_min_listen(self.min_listen)

    @property
    def sso_on(self) -> bool:
        """Single sign-on is offered: sign-in is on and an issuer and a client id are set (the secret is
        optional: without it the app is a public client and PKCE protects the code)."""
        return self.auth_on and bool(self.oidc_issuer and self.oidc_client_id)

    @property
    def resolved_data_dir(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_data_dir / 'training_dashboard.db'}"

    @property
    def audio_dir(self) -> Path:
        return self.resolved_data_dir / "audio"

    @property
    def exports_dir(self) -> Path:
        return self.resolved_data_dir / "exports"

    @property
    def default_adapter_root(self) -> Path:
        return self.resolved_data_dir / "adapters"

    @property
    def resolved_adapter_roots(self) -> list[Path]:
        roots = [p.expanduser().resolve() for p in self.adapter_roots]
        return roots or [self.default_adapter_root]

    @property
    def run_adapter_root(self) -> Path:
        """Where runs launched from the dashboard write their adapters (the CLI's default root)."""
        roots = self.resolved_adapter_roots
        return self.default_adapter_root if self.default_adapter_root in roots else roots[0]

    @property
    def auth_on(self) -> bool:
        return self.auth == "on"

    def resolved_secret_key(self) -> bytes:
        """``TD_SECRET_KEY``, else the key in ``<data dir>/secret_key``, created (0600) on first use."""
        if self.secret_key:
            return self.secret_key.encode()
        path = self.resolved_data_dir / "secret_key"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
        for _ in range(50):  # another process may be writing it right now
            key = path.read_text().strip()
            if key:
                return key.encode()
            time.sleep(0.01)
        raise RuntimeError(f"{path} is empty: delete it (a new key is made) or set TD_SECRET_KEY")

    def ensure_dirs(self) -> None:
        for path in (self.resolved_data_dir, self.audio_dir, self.exports_dir, *self.resolved_adapter_roots):
            path.mkdir(parents=True, exist_ok=True)


class BindRefused(RuntimeError):
    """``TD_AUTH=off`` asked for on an address other machines can reach."""


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and ``localhost`` (0.0.0.0, :: and names are not)."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(settings: Settings, host: str | None) -> None:
    """Refuse to serve without sign-in on a non-loopback address.

    Raises:
        BindRefused: ``TD_AUTH=off`` and ``host`` is not a loopback address.
    """
    if settings.auth == "off" and host and not is_loopback(host):
        raise BindRefused(
            f"TD_AUTH=off is allowed only on a loopback address (127.0.0.1, ::1, localhost), not {host!r}: anyone "
            "who reaches it would act as an admin. Bind 127.0.0.1 (TD_HOST / --backend-host), or turn sign-in on "
            "(unset TD_AUTH) and create the first admin (TD_ADMIN_USER + TD_ADMIN_PASSWORD or the setup link).")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests build their own ``Settings``)."""
    return Settings()

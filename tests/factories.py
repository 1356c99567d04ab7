"""Small factories that seed real rows through the services (no mocks)."""

from __future__ import annotations

import contextlib
import io
import os
import threading
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np

from training_dashboard.config import Settings
from training_dashboard.db import Database
from training_dashboard.schemas import MAX_ID
from training_dashboard.services import jobs


def wav_bytes(seconds: float = 0.5, rate: int = 32000, freq: float = 440.0) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    pcm = (0.3 * np.sin(2 * np.pi * freq * t) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def make_clips(db: Database, settings: Settings, prompt_id: int, n: int = 2, adapter_id: int | None = None,
               seed: int = 1) -> list[int]:
    """Run a job through the queue the way the worker does, with real WAV files on disk."""
    job = jobs.enqueue_job(db, prompt_id, None, n, {"seed": seed, "duration": 0.5}, settings.base_model)
    claimed = jobs.claim_next_job(db)
    assert claimed is not None and claimed.id == job.id
    samples = []
    for i in range(n):
        rel = Path("audio") / f"factory-{job.id}-{i}.wav"
        (settings.resolved_data_dir / rel).write_bytes(wav_bytes(freq=220.0 * (i + 1)))
        samples.append(jobs.GeneratedSample(seed=seed + i, duration=0.5, sample_rate=32000, file_path=str(rel)))
    ids = jobs.complete_job(db, job.id or 0, samples)
    if adapter_id is not None:  # clips "from" an adapter without running a model
        from sqlalchemy import update

        from training_dashboard.db.models import AudioSample

        with db.write_session() as session:
            session.execute(update(AudioSample).where(AudioSample.id.in_(ids)).values(adapter_id=adapter_id))
    return ids


def make_lora_dir(root: Path, name: str, base_model: str = "tiny", zero_b: bool = False) -> Path:
    """A PEFT LoRA directory in the on-disk format save_pretrained writes (config + safetensors)."""
    import json

    from safetensors.numpy import save_file

    path = root / name
    path.mkdir(parents=True, exist_ok=True)
    (path / "adapter_config.json").write_text(json.dumps({
        "peft_type": "LORA", "r": 4, "lora_alpha": 8, "base_model_name_or_path": base_model,
        "target_modules": ["q_proj", "v_proj"], "task_type": None,
    }))
    rng = np.random.default_rng(0)
    b = np.zeros((64, 4), np.float32) if zero_b else rng.normal(size=(64, 4)).astype(np.float32)
    save_file({
        "base_model.model.decoder.model.decoder.layers.0.self_attn.q_proj.lora_A.weight":
            rng.normal(size=(4, 64)).astype(np.float32),
        "base_model.model.decoder.model.decoder.layers.0.self_attn.q_proj.lora_B.weight": b,
    }, str(path / "adapter_model.safetensors"))
    return path


def run_concurrently(target: Callable[[int], None], n: int, timeout: float = 120.0) -> list[BaseException]:
    """Run ``target(0) … target(n-1)`` in ``n`` threads at once; the exceptions they raised."""
    errors: list[BaseException] = []

    def guarded(index: int) -> None:
        try:
            target(index)
        except BaseException as exc:  # noqa: BLE001 - returned to the test, which asserts on it
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return errors


ADMIN_USER, ADMIN_PASSWORD = "admin", "admin-password-for-tests"


def make_user(db: Database, username: str, role: str = "rater", password: str | None = None) -> int:
    """A user (and their rater row) through the service; their id."""
    from training_dashboard import schemas
    from training_dashboard.services import accounts

    user = accounts.create_user(db, schemas.UserCreate(username=username, role=role, password=password), None)
    return user.id or 0


def make_token(db: Database, user_id: int, name: str = "tests", expires_in_days: int | None = 30) -> str:
    """A personal access token for ``user_id`` through the service; the secret."""
    from training_dashboard import schemas
    from training_dashboard.services import tokens

    return tokens.create_token(db, user_id, schemas.TokenCreate(name=name, expires_in_days=expires_in_days),
                                    None).token


def user_id_of(db: Database, username: str) -> int:
    from sqlalchemy import select

    from training_dashboard.db.models import UserAccount

    with db.session() as session:
        found = session.scalar(select(UserAccount.id).where(UserAccount.username == username.strip().lower()))
    assert found is not None, username
    return found


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class SignedIn:
    """Real credentials for the in-process test API, picked per request like separate browsers would be.

    A request without credentials (or with this helper's admin token) is sent with a personal access
    token minted through the real service: the token of the rater its query or JSON body names
    (``rater_id``), else the admin's. Tests written before sign-in name several raters in one client;
    each such request now really is that rater's (sign-in refuses a body naming someone else). The
    raters' users it mints tokens for act with the trainer role, so those tests still see what they saw
    (clips unblinded, revealed queues); the rater role itself is tested in tests/api/test_roles.py with
    explicit tokens. Requests that carry other credentials, or ``Authorization: Anonymous``, pass as they are.
    """

    def __init__(self, db: Database, admin_username: str | None = ADMIN_USER) -> None:
        self.db = db
        if admin_username is None:  # an app built without TD_ADMIN_USER: a passwordless test admin
            admin_username = "tests-admin"
            from sqlalchemy import select

            from training_dashboard import schemas
            from training_dashboard.db.models import UserAccount
            from training_dashboard.services import accounts

            with db.write_session() as session:
                if session.scalar(select(UserAccount.id).where(UserAccount.username == admin_username)) is None:
                    accounts.create_user_in(session, schemas.UserCreate(username=admin_username, role="admin"))
        self.admin = make_token(db, user_id_of(db, admin_username), "tests-admin")
        self._raters: dict[int, str] = {}

    def token_for_rater(self, rater_id: int) -> str:
        if rater_id not in self._raters:
            from sqlalchemy import select, update

            from training_dashboard import schemas
            from training_dashboard.db.models import Rater, UserAccount
            from training_dashboard.services import accounts

            with self.db.session() as session:
                user = session.scalar(select(UserAccount).where(UserAccount.rater_id == rater_id))
                name = session.scalar(select(Rater.name).where(Rater.id == rater_id))
                taken = set(session.scalars(select(UserAccount.username)))
            if name is None:  # no such rater: let the API say so (as the admin)
                return self.admin
            if user is None:  # a rater made without sign-in: give them a user
                with self.db.write_session() as session:
                    user = accounts.create_user_in(session, schemas.UserCreate(
                        username=accounts.username_for(name, taken), display_name=name, role="trainer"))
            elif user.role == "rater":
                with self.db.write_session() as session:
                    session.execute(update(UserAccount).where(UserAccount.id == user.id).values(role="trainer"))
            self._raters[rater_id] = make_token(self.db, user.id or 0, "tests-rater")
        return self._raters[rater_id]

    def authorize(self, request: httpx.Request) -> None:
        header = request.headers.get("authorization")
        if "cookie" in request.headers or (header is not None and header != f"Bearer {self.admin}"):  # own or ANONYMOUS
            return
        rater_id = named_rater(request)
        request.headers["Authorization"] = f"Bearer {self.token_for_rater(rater_id) if rater_id else self.admin}"


def named_rater(request: httpx.Request) -> int | None:
    """The ``rater_id`` a request's query or JSON body names (None when it names none)."""
    import json
    import re

    value = request.url.params.get("rater_id")
    if value is None and request.headers.get("content-type", "").startswith("application/json"):
        try:
            body = json.loads(request.content or b"null")
        except (ValueError, httpx.RequestNotRead):
            body = None
        value = body.get("rater_id") if isinstance(body, dict) else None
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 < value <= MAX_ID else None  # past it: the API's own 422, not a PostgreSQL overflow here
    return int(value) if isinstance(value, str) and re.fullmatch(r"[0-9]{1,9}", value) and int(value) else None


ANONYMOUS = {"Authorization": "Anonymous"}  # no credentials: SignedIn leaves the request alone, the API sees none


SERVER_TOKENS: dict[str, str] = {}  # "127.0.0.1:<port>" of a test's API server -> its admin's personal token


def authorize_for_server(request: httpx.Request) -> None:
    """Requests to a test's own API server (tests/hardening/server.ApiServer) without credentials carry its
    admin's personal access token, as a signed-in CLI would."""
    token = SERVER_TOKENS.get(request.url.netloc.decode("ascii"))
    if token and "authorization" not in request.headers and "cookie" not in request.headers:
        request.headers["Authorization"] = f"Bearer {token}"


@contextlib.contextmanager
def oidc_provider() -> Iterator[str]:
    """A real OpenID provider (``oidc-provider-mock``: Authlib's server side in a Flask app) in a thread on a
    free 127.0.0.1 port; its issuer URL. It accepts any client id and secret, and its sign-in page asks for
    the ``sub``; ``PUT <issuer>/users/<sub>`` sets that user's claims (see :func:`set_oidc_claims`)."""
    import oidc_provider_mock
    import werkzeug.serving

    saved = os.environ.get("AUTHLIB_INSECURE_TRANSPORT")
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"  # the provider's own https check: http on loopback is fine
    server = werkzeug.serving.make_server("127.0.0.1", 0, oidc_provider_mock.app(require_nonce=True), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
        if saved is None:
            os.environ.pop("AUTHLIB_INSECURE_TRANSPORT", None)


def set_oidc_claims(issuer: str, sub: str, claims: dict[str, object]) -> None:
    """The claims the provider of :func:`oidc_provider` puts in ``sub``'s ID token."""
    httpx.put(f"{issuer}/users/{sub}", json=claims).raise_for_status()

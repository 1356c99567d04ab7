"""Access control: the bearer token, and signed audio URLs for the browser.

With ``TD_API_TOKEN`` set, every /api request needs the token. The browser never sees it:
the UI's server-side client sends it, and the stream URLs it hands to ``<audio>`` carry an
expiring HMAC signature that grants access to that one clip only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

from training_dashboard.schemas import parse_int

PREFIX = "/api"
STREAM_TTL_S = 24 * 3600
_STREAM_PATH = re.compile(rf"^{PREFIX}/audio/(\d+)/stream$")
_EVAL_STREAM_PATH = re.compile(rf"^{PREFIX}/evaluations/\d+/pairs/\d+/(first|second)/stream$")


class AudioSigner:
    """Builds stream URLs; signed (``?exp=&sig=``) when a token is configured."""

    def __init__(self, token: str | None) -> None:
        self._key = hashlib.sha256(b"td-audio:" + token.encode()).digest() if token else None

    def _sig(self, audio_id: int, exp: int) -> str:
        assert self._key is not None
        return hmac.new(self._key, f"{audio_id}:{exp}".encode(), hashlib.sha256).hexdigest()[:32]

    def url(self, audio_id: int) -> str:
        path = f"{PREFIX}/audio/{audio_id}/stream"
        if self._key is None:
            return path
        exp = (int(time.time()) // 3600 + 1) * 3600 + STREAM_TTL_S  # hour-aligned: stable for caching
        return f"{path}?exp={exp}&sig={self._sig(audio_id, exp)}"

    def path_url(self, target: str) -> str:
        """A URL for ``target`` (path and query), signed like :meth:`url` when a token is set."""
        if self._key is None:
            return target
        exp = (int(time.time()) // 3600 + 1) * 3600 + STREAM_TTL_S
        sep = "&" if "?" in target else "?"
        return f"{target}{sep}exp={exp}&sig={self._path_sig(target, exp)}"

    def _path_sig(self, target: str, exp: int) -> str:
        assert self._key is not None
        return hmac.new(self._key, f"path:{target}:{exp}".encode(), hashlib.sha256).hexdigest()[:32]

    def valid_path(self, target: str, exp: str, sig: str) -> bool:
        expires = parse_int(exp, 0, 10**18)
        if self._key is None or expires is None or expires < time.time():
            return False
        return hmac.compare_digest(self._path_sig(target, expires).encode(), sig.encode())  # bytes: any sig text

    def valid(self, audio_id: int, exp: str, sig: str) -> bool:
        expires = parse_int(exp, 0, 10**18)
        if self._key is None or expires is None or expires < time.time():
            return False
        return hmac.compare_digest(self._sig(audio_id, expires).encode(), sig.encode())


class BearerAuth:
    """Require ``Authorization: Bearer <token>`` on every /api request (or a valid stream signature)."""

    def __init__(self, app: ASGIApp, token: str, signer: AudioSigner) -> None:
        self.app, self.token, self.signer = app, token.encode(), signer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX) and not self._allowed(scope):
            await send_json(send, 401, "Missing or wrong API token (send Authorization: Bearer <TD_API_TOKEN>)",
                            {b"www-authenticate": b"Bearer"})
            return
        await self.app(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        if scope["path"].startswith(f"{PREFIX}/worker/"):
            return True  # the worker token, not the API token, guards these (api.deps.require_worker)
        header = dict(scope.get("headers", [])).get(b"authorization", b"")
        scheme, _, supplied = header.partition(b" ")
        if scheme.lower() == b"bearer" and secrets.compare_digest(supplied.strip(), self.token):
            return True
        match = _STREAM_PATH.match(scope["path"])
        if match and scope["method"] in ("GET", "HEAD"):
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            return self.signer.valid(int(match.group(1)), query.get("exp", [""])[0], query.get("sig", [""])[0])
        if _EVAL_STREAM_PATH.match(scope["path"]) and scope["method"] in ("GET", "HEAD"):
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            target = f"{scope['path']}?rater_id={query.get('rater_id', [''])[0]}"
            return self.signer.valid_path(target, query.get("exp", [""])[0], query.get("sig", [""])[0])
        return False


async def send_json(send: Send, status: int, detail: str, extra: dict[bytes, bytes] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += list((extra or {}).items())
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

"""Single sign-on with OpenID Connect: the relying party's side of the authorization code flow.

Endpoints come from ``{issuer}/.well-known/openid-configuration`` (cached an hour; the key set is
fetched again when an ID token names a key it does not hold: the provider rotated its keys). The
flow sends ``state``, ``nonce`` and a PKCE challenge (S256); the ID token's signature is checked
against the provider's key set (asymmetric algorithms only), then ``iss``, ``aud``, ``exp``,
``iat``, ``azp``, ``at_hash`` and ``nonce`` with Authlib's claim rules. Who the caller keeps the
state with (a signed cookie, see ``api/oidc.py``) is not this module's business.
"""

from __future__ import annotations

import re
import secrets
import time
import unicodedata
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from training_dashboard.services.errors import ServiceError

SCOPE = "openid profile email"
TIMEOUT_S = 10.0
METADATA_TTL_S = 3600.0
LEEWAY_S = 60
# Never "none" and never an HMAC keyed by the client secret: the provider's published keys sign.
ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


class SsoFailed(ServiceError):
    """The provider could not be reached, refused, or answered something that does not check out."""

    status_code = 401


@dataclass(frozen=True)
class Authorization:
    """Where to send the browser, and what the callback must check against (keep it from the browser's eyes)."""

    url: str
    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class Identity:
    """Whom the provider vouched for: ``subject`` (``<issuer>|<sub>``) is who they are; the rest may change."""

    subject: str
    username: str
    display_name: str | None
    email: str | None


def normalise_username(value: str) -> str:
    """The app's username rules (lower-case ``[a-z0-9._-]``, ≤ 64), as migration 0010 made raters' names:
    accents dropped, other characters as "-"; "" when nothing is left."""
    ascii_name = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9._-]+", "-", ascii_name).strip("-.")[:64].strip("-.")


def identity_of(claims: dict[str, Any]) -> Identity:
    """Username from ``preferred_username``, else the e-mail's local part (unless the provider says the address
    is unverified), else ``sub``; display name from ``name``.

    Raises:
        SsoFailed: no ``sub`` (or an unusable one), or none of them gives a usable username.
    """
    sub, issuer = claims.get("sub"), claims.get("iss")
    if not isinstance(sub, str) or not sub.strip() or len(sub) > 255 or not sub.isprintable():
        raise SsoFailed("the provider gave no usable subject (sub)")
    subject = f"{issuer if isinstance(issuer, str) else ''}|{sub}"
    if len(subject) > 600:
        raise SsoFailed("the provider's issuer and subject are too long (over 600 characters)")
    email = claims.get("email") if isinstance(claims.get("email"), str) else None
    local = email.split("@", 1)[0] if email and claims.get("email_verified") is not False else None
    candidates = (claims.get("preferred_username"), local, claims.get("sub"))
    username = next((n for c in candidates if isinstance(c, str) and (n := normalise_username(c))), "")
    if not username:
        raise SsoFailed("the provider gave no usable username (preferred_username, email or sub)")
    name = claims.get("name")
    name = " ".join("".join(c for c in name if c.isprintable()).split())[:100] if isinstance(name, str) else ""
    display = name or None
    return Identity(subject=subject, username=username, display_name=display, email=email)


class OidcClient:
    """One provider (``TD_OIDC_ISSUER``) for this process; safe to share between requests."""

    def __init__(self, issuer: str, client_id: str, client_secret: str | None, *, timeout: float = TIMEOUT_S) -> None:
        self.issuer, self.client_id, self.client_secret = issuer.rstrip("/"), client_id, client_secret or None
        self.timeout = timeout
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._jwks: dict[str, Any] | None = None

    def _client(self, metadata: dict[str, Any], redirect_uri: str) -> AsyncOAuth2Client:
        methods = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        if not self.client_secret:
            method = "none"  # a public client: PKCE is what protects the code
        else:
            method = "client_secret_basic" if "client_secret_basic" in methods or "client_secret_post" not in methods \
                else "client_secret_post"
        return AsyncOAuth2Client(client_id=self.client_id, client_secret=self.client_secret, scope=SCOPE,
                                 redirect_uri=redirect_uri, token_endpoint_auth_method=method,
                                 code_challenge_method="S256", timeout=self.timeout)

    async def _get_json(self, url: str) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=self.timeout) as http:
            response = await http.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            data = response.json()
        if not isinstance(data, dict):
            raise SsoFailed(f"{url} answered no JSON object")
        return data

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (cached an hour).

        Raises:
            SsoFailed: unreachable, or its ``issuer`` is not ``TD_OIDC_ISSUER``.
        """
        if self._metadata is not None and time.monotonic() - self._metadata_at < METADATA_TTL_S:
            return self._metadata
        try:
            data = await self._get_json(f"{self.issuer}/.well-known/openid-configuration")
        except (httpx.HTTPError, ValueError) as exc:
            raise SsoFailed(f"discovery at {self.issuer} failed: {exc!r}") from exc
        if str(data.get("issuer", "")).rstrip("/") != self.issuer:
            raise SsoFailed(f"the discovery document names issuer {data.get('issuer')!r}, not {self.issuer!r}")
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(data.get(key), str):
                raise SsoFailed(f"the discovery document has no {key}")
        self._metadata, self._metadata_at, self._jwks = data, time.monotonic(), None
        return data

    async def _key_set(self, metadata: dict[str, Any], *, refresh: bool = False) -> KeySet:
        if self._jwks is None or refresh:
            try:
                self._jwks = await self._get_json(metadata["jwks_uri"])
            except (httpx.HTTPError, ValueError) as exc:
                raise SsoFailed(f"the provider's key set could not be fetched: {exc!r}") from exc
        try:
            return KeySet.import_key_set(self._jwks)  # type: ignore[arg-type]
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise SsoFailed(f"the provider's key set is unusable: {exc!r}") from exc

    async def authorization(self, redirect_uri: str) -> Authorization:
        """A fresh authorization request (state, nonce, PKCE verifier) for ``redirect_uri``.

        Raises:
            SsoFailed: the provider's discovery document could not be read.
        """
        metadata = await self.metadata()
        state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        async with self._client(metadata, redirect_uri) as client:
            url, _ = client.create_authorization_url(metadata["authorization_endpoint"], state=state,
                                                     code_verifier=verifier, nonce=nonce)
        return Authorization(url=url, state=state, nonce=nonce, code_verifier=verifier)

    async def identity(self, code: str, redirect_uri: str, nonce: str, code_verifier: str) -> Identity:
        """Redeem the authorization ``code`` and check the ID token; whom it names.

        Raises:
            SsoFailed: the token endpoint refused or was unreachable, or the ID token does not check out.
        """
        metadata = await self.metadata()
        try:
            async with self._client(metadata, redirect_uri) as client:
                token = await client.fetch_token(metadata["token_endpoint"], grant_type="authorization_code",
                                                 code=code, code_verifier=code_verifier)
        except Exception as exc:  # noqa: BLE001 - Authlib raises its own OAuthError and httpx2's errors
            raise SsoFailed(f"the token endpoint refused the code: {exc!r}") from exc
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise SsoFailed("the token endpoint returned no id_token")
        claims = await self._verified_claims(metadata, id_token, nonce, token.get("access_token"))
        return identity_of(claims)

    async def _verified_claims(self, metadata: dict[str, Any], id_token: str, nonce: str,
                               access_token: object) -> dict[str, Any]:
        offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [alg for alg in offered if alg in ASYMMETRIC] or ["RS256"]
        registry = JWSRegistry(algorithms=algorithms, strict_check_header=False)
        try:
            try:
                decoded = jwt.decode(id_token, await self._key_set(metadata), registry=registry)
            except InvalidKeyIdError:
                decoded = jwt.decode(id_token, await self._key_set(metadata, refresh=True), registry=registry)
            params: dict[str, Any] = {"nonce": nonce, "client_id": self.client_id}
            if isinstance(access_token, str):
                params["access_token"] = access_token
            options = {"iss": {"essential": True, "value": metadata["issuer"]},
                       "aud": {"essential": True, "value": self.client_id}}
            claims = CodeIDToken(decoded.claims, decoded.header, options, params)  # type: ignore[arg-type]
            claims.validate(leeway=LEEWAY_S)
        except SsoFailed:
            raise
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise SsoFailed(f"the ID token does not check out: {exc!r}") from exc
        return dict(claims)

"""/account: who am I, and my personal access tokens (the secret is shown once, at creation)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import reflex as rx
from reflex.experimental.client_state import ClientStateVar

from training_dashboard import schemas
from training_dashboard.state.api import api_client, short_date
from training_dashboard.state.auth import AuthState
from training_dashboard.state.loading import call, load

EXPIRY_CHOICES = (("7", "7 days"), ("30", "30 days"), ("90", "90 days"), ("365", "1 year"), ("never", "Never"))

# The secret of the token just created lives only in the browser tab (a React state): never in the
# backend's state (pickled into Redis), and gone on the next page load, so it is shown once.
NEW_SECRET = ClientStateVar.create("td_new_token_secret", default="", global_ref=True)


@dataclasses.dataclass
class TokenRow:
    id: int
    name: str
    owner: str
    prefix: str
    created: str
    expires: str
    last_used: str
    status: str  # active | expired | revoked


def token_status(token: schemas.TokenPublic, now: datetime | None = None) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= (now or datetime.now(UTC)):
        return "expired"
    return "active"


def token_row(token: schemas.TokenPublic, now: datetime | None = None) -> TokenRow:
    return TokenRow(id=token.id, name=token.name, owner=token.username, prefix=token.prefix + "…",
                    created=short_date(token.created_at), expires=short_date(token.expires_at) or "never",
                    last_used=short_date(token.last_used_at) or "never", status=token_status(token, now))


def expiry_days(choice: str) -> int | None:
    """``"90"`` -> 90; ``"never"`` -> None (the API's "never expires")."""
    return None if choice == "never" else int(choice) if choice in dict(EXPIRY_CHOICES) else 90


class AccountState(rx.State):
    tokens: list[TokenRow] = []
    new_name: str = ""
    new_expiry: str = "90"
    created_name: str = ""  # of the token whose secret NEW_SECRET shows
    creating: bool = False
    loading: bool = False
    loaded: bool = False
    error: str = ""

    @rx.var
    def name_ok(self) -> bool:
        return 0 < len(self.new_name.strip()) <= 100

    @rx.event
    def load_page(self):  # type: ignore[no-untyped-def]
        self.created_name, self.error = "", ""
        return AccountState.load_tokens

    @rx.event(background=True)
    async def load_tokens(self):  # type: ignore[no-untyped-def]
        """Your own tokens (for an admin the API would list everyone's: /admin shows those)."""
        async with self:
            user_id = (await self.get_state(AuthState)).user_id or None
        await load(self, api_client, lambda api: api.list_tokens(user_id=user_id), self._show, failed=self._failed)

    def _show(self, tokens: list[schemas.TokenPublic]) -> None:
        now = datetime.now(UTC)
        self.tokens = [token_row(t, now) for t in tokens]
        self.error, self.loaded = "", True

    def _failed(self, error: str) -> None:
        self.error, self.loaded = f"Could not load your tokens: {error}", True

    @rx.event
    def set_new_name(self, value: str) -> None:
        self.new_name = value[:100]

    @rx.event
    def set_new_expiry(self, value: str) -> None:
        self.new_expiry = value if value in dict(EXPIRY_CHOICES) else "90"

    @rx.event(background=True)
    async def create_token(self):  # type: ignore[no-untyped-def]
        async with self:
            if self.creating or not self.name_ok:
                return
            body = schemas.TokenCreate(name=self.new_name.strip(), expires_in_days=expiry_days(self.new_expiry))
            self.creating = True
        made: list[schemas.TokenCreated] = []

        def show(created: schemas.TokenCreated) -> None:
            made.append(created)
            self.created_name, self.new_name = created.name, ""

        if error := await call(self, api_client, lambda api: api.create_token(body), show, flag="creating"):
            yield rx.toast.error(f"Could not create the token: {error}")
            return
        yield NEW_SECRET.push(made[0].token)
        yield AccountState.load_tokens

    @rx.event
    async def revoke_token(self, token_id: int):  # type: ignore[no-untyped-def]
        if error := await call(self, api_client, lambda api: api.revoke_token(token_id)):
            yield rx.toast.error(f"Could not revoke the token: {error}")
            return
        yield rx.toast.success("Token revoked: it stops working at once")
        yield AccountState.load_tokens

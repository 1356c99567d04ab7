"""/admin: the users (create, role, disable, password) and everyone's access tokens."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import reflex as rx
from pydantic import ValidationError

from training_dashboard import schemas
from training_dashboard.state.account import TokenRow, token_row
from training_dashboard.state.api import api_client, error_text, short_date
from training_dashboard.state.auth import ROLES
from training_dashboard.state.loading import call, load

MIN_PASSWORD = 12


@dataclasses.dataclass
class UserRow:
    id: int
    username: str
    display_name: str
    role: str
    disabled: bool
    has_password: bool
    created: str
    last_login: str


def user_row(user: schemas.UserPublic) -> UserRow:
    return UserRow(id=user.id, username=user.username, display_name=user.display_name, role=user.role,
                   disabled=user.disabled, has_password=user.has_password, created=short_date(user.created_at),
                   last_login=short_date(user.last_login_at) or "never")


def first_problem(exc: ValidationError) -> str:
    """A pydantic error as one sentence for a form ("username: String should match pattern ...")."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ()))
    return f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid"))


class AdminState(rx.State):
    users: list[UserRow] = []
    tokens: list[TokenRow] = []
    loading: bool = False
    loaded: bool = False
    tokens_loading: bool = False
    error: str = ""
    # Create a user.
    new_username: str = ""
    new_display: str = ""
    new_role: str = "rater"
    new_password: str = ""
    create_error: str = ""
    creating: bool = False
    # Set a password (a dialog for one user).
    password_for: int = 0
    password_name: str = ""
    password_value: str = ""
    password_error: str = ""

    @rx.var
    def password_ok(self) -> bool:
        return len(self.password_value) >= MIN_PASSWORD

    @rx.var
    def can_create(self) -> bool:
        return bool(self.new_username.strip()) and (not self.new_password or len(self.new_password) >= MIN_PASSWORD)

    @rx.event(background=True)
    async def load_users(self):  # type: ignore[no-untyped-def]
        await load(self, api_client, lambda api: api.list_users(), self._show, failed=self._failed)

    def _show(self, users: list[schemas.UserPublic]) -> None:
        self.users = [user_row(u) for u in users]
        self.error, self.loaded = "", True

    def _failed(self, error: str) -> None:
        self.error, self.loaded = f"Could not load the users: {error}", True

    @rx.event(background=True)
    async def load_tokens(self):  # type: ignore[no-untyped-def]
        if error := await load(self, api_client, lambda api: api.list_tokens(), self._show_tokens,
                               flag="tokens_loading"):
            yield rx.toast.error(f"Could not load the tokens: {error}")

    def _show_tokens(self, tokens: list[schemas.TokenPublic]) -> None:
        now = datetime.now(UTC)
        self.tokens = [token_row(t, now) for t in tokens]

    @rx.event
    def set_new_username(self, value: str) -> None:
        self.new_username, self.create_error = value[:64], ""

    @rx.event
    def set_new_display(self, value: str) -> None:
        self.new_display = value[:100]

    @rx.event
    def set_new_role(self, value: str) -> None:
        self.new_role = value if value in ROLES else "rater"

    @rx.event
    def set_new_password(self, value: str) -> None:
        self.new_password, self.create_error = value[:1024], ""

    @rx.event
    async def create_user(self):  # type: ignore[no-untyped-def]
        if self.creating or not self.can_create:
            return
        try:
            body = schemas.UserCreate(username=self.new_username, display_name=self.new_display.strip() or None,
                                      role=self.new_role, password=self.new_password or None)  # type: ignore[arg-type]
        except ValidationError as exc:
            self.create_error = first_problem(exc)
            return
        self.creating = True
        yield
        try:
            async with api_client(self) as api:
                user = await api.create_user(body)
        except Exception as exc:  # noqa: BLE001
            self.create_error = error_text(exc)
            return
        finally:
            self.creating = False
        self.users = sorted([*self.users, user_row(user)], key=lambda u: u.username)
        self.new_username, self.new_display, self.new_role, self.new_password = "", "", "rater", ""
        yield rx.toast.success(f"{user.username} created as {user.role}")

    async def _update(self, user_id: int, done: str, **changes: Any) -> tuple[bool, rx.event.EventSpec]:
        """PATCH one user and show the answer; effective on their next request (the API checks per request)."""
        try:
            async with api_client(self) as api:
                user = await api.update_user(user_id, schemas.UserUpdate(**changes))
        except Exception as exc:  # noqa: BLE001
            return False, rx.toast.error(f"Could not change the user: {error_text(exc)}")
        self.users = [user_row(user) if u.id == user_id else u for u in self.users]
        return True, rx.toast.success(done.format(name=user.username))

    @rx.event
    async def change_role(self, user_id: int, role: str):  # type: ignore[no-untyped-def]
        if role not in ROLES:
            return None
        return (await self._update(user_id, "{name} is now " + role, role=role))[1]

    @rx.event
    async def set_disabled(self, user_id: int, disabled: bool):  # type: ignore[no-untyped-def]
        done = "{name} is disabled: signed out everywhere" if disabled else "{name} can sign in again"
        return (await self._update(user_id, done, disabled=bool(disabled)))[1]

    @rx.event
    def open_password(self, user_id: int, username: str) -> None:
        self.password_for, self.password_name, self.password_value, self.password_error = user_id, username, "", ""

    @rx.event
    def close_password(self, open_: bool = False) -> None:
        if not open_:
            self.password_for, self.password_value, self.password_error = 0, "", ""

    @rx.event
    def set_password_value(self, value: str) -> None:
        self.password_value, self.password_error = value[:1024], ""

    @rx.event
    async def save_password(self):  # type: ignore[no-untyped-def]
        if not self.password_for or not self.password_ok:
            return None
        ok, toast = await self._update(self.password_for, "New password set for {name}",
                                       password=self.password_value)
        if ok:
            self.password_for, self.password_value = 0, ""
        return toast

    @rx.event
    async def revoke_token(self, token_id: int):  # type: ignore[no-untyped-def]
        if error := await call(self, api_client, lambda api: api.revoke_token(token_id)):
            yield rx.toast.error(f"Could not revoke the token: {error}")
            return
        yield rx.toast.success("Token revoked")
        yield AdminState.load_tokens

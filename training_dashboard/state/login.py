"""/login and /setup: what their plain HTML forms need (where to return, why the last try failed).

The forms post straight to the API (``/api/auth/login/form``, ``/api/auth/setup/form``): the
password never passes through Reflex state, and the answer sets the HttpOnly cookie itself.
"""

from __future__ import annotations

from urllib.parse import urlencode

import reflex as rx

from training_dashboard.client import ApiError
from training_dashboard.state.api import api_client, api_path
from training_dashboard.state.auth import AuthState, safe_next

LOGIN_ERRORS = {
    "missing": "Enter your username and your password.",
    "invalid": "Wrong username or password.",
    "disabled": "Wrong username or password, or the account is disabled. Ask an admin.",
    "sso": "Single sign-on did not complete. Try again, or sign in with a password.",
    "busy": "Too many sign-ins at once. Try again in a moment.",
}
SETUP_ERRORS = {
    "password": "The password needs at least 12 characters.",
    "username": "A username is 1–64 lower-case letters, digits, '.', '_' or '-'.",
    "done": "The first admin already exists: sign in instead.",
    "link": "This setup link was already used or has expired. Restart the app: it prints a new one.",
}


def login_error(code: str, retry_after: str = "") -> str:
    """The sentence for ``/login?error=<code>`` ("" for none)."""
    if not code:
        return ""
    if code == "locked":
        seconds = int(retry_after) if retry_after.isascii() and retry_after.isdigit() else 0
        wait = f"in {max(1, -(-seconds // 60))} minute{'s' if seconds > 60 else ''}" if seconds else "later"
        return f"Too many failed sign-ins. Try again {wait}."
    return LOGIN_ERRORS.get(code, "Sign-in failed. Try again.")


class _FormPage(rx.State):
    """A page whose form posts fields its ``load_page`` reads from the URL (``next``, the setup token).

    Its submit button waits for :attr:`ready`: a person (or a test) quicker than the websocket would
    otherwise post the defaults the page started with, and land on / instead of where they were going.
    """

    loaded_url: str = ""  # the URL load_page last read; a later visit of this tab starts with the old one

    @rx.var(cache=False)
    def ready(self) -> bool:
        return bool(self.loaded_url) and self.loaded_url == str(self.router.url)

    def _loaded(self) -> None:
        self.loaded_url = str(self.router.url)


class LoginState(_FormPage):
    next_path: str = "/"
    error: str = ""
    sso: bool = False
    setup_needed: bool = False  # no admin yet: the console's setup link comes first

    @rx.var
    def sso_href(self) -> str:
        return api_path("/api/auth/oidc/login?" + urlencode({"next": self.next_path}))

    @rx.event
    async def load_page(self):  # type: ignore[no-untyped-def]
        """Read ``next`` and ``error``; someone already signed in goes straight on to ``next``."""
        query = self.router.url.query_parameters
        self.next_path = safe_next(query.get("next"))
        self.error = login_error(query.get("error", ""), query.get("retry_after", ""))
        self._loaded()  # sent with everything below: this handler's changes reach the page together
        try:
            async with api_client(self) as api:
                me = await api.me()
        except ApiError:
            me = None
        if me is not None and not self.error:
            return rx.redirect(self.next_path, replace=True)
        (await self.get_state(AuthState))._forget()  # the header must not show whoever used this tab last
        try:
            async with api_client(self) as api:
                status = await api.setup_status()
            self.setup_needed = status.needed
            # Single sign-on is offered once the API reports it configured (see CONTRACT-CHANGES).
            self.sso = bool(getattr(status, "sso", False))
        except ApiError:
            self.setup_needed = False
        return None


class SetupState(_FormPage):
    token: str = ""
    error: str = ""
    done: bool = False  # an admin exists: nothing to set up

    @rx.event
    async def load_page(self) -> None:
        """Read the link's token and say at once when it cannot work (used, expired, already set up)."""
        query = self.router.url.query_parameters
        self.token = query.get("token", "")[:200]
        self._loaded()
        code = query.get("error", "")
        self.error = SETUP_ERRORS.get(code, "Setting up failed. Try again.") if code else ""
        try:
            async with api_client(self) as api:
                status = await api.setup_status(self.token or None)
        except ApiError:
            return
        self.done = not status.needed
        if self.done:
            self.error = SETUP_ERRORS["done"]
        elif not self.token or status.token_valid is False:
            self.error = self.error or SETUP_ERRORS["link"]

"""Who is signed in on this tab, and the guard every page but /login and /setup loads first.

The session is an HttpOnly cookie: page scripts cannot read it, and Reflex hands it to handlers only
on the server (``router.headers.cookie``, captured when the tab's websocket connected). So signing
in and out are full navigations (plain HTML forms posting to the API), and what this state remembers
is only for drawing the page: the API checks the session on every request, so sign-out, a disabled
account or a role change bites on the tab's next call, wherever the state says otherwise.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

import reflex as rx
from reflex.app import default_backend_exception_handler
from reflex.event import EventHandler, EventSpec

from training_dashboard.client import ApiError
from training_dashboard.state.api import SignedOut, api_client, error_text

ROLES = ("rater", "trainer", "admin")  # each includes the one before it
NO_RETURN = ("/login", "/setup")  # never sent back to after sign-in

# The browser side of "the session ended": the handler that met the 401 cannot name the page, the
# browser can. A full navigation, so the sign-in that follows opens a socket with the new cookie.
GO_TO_LOGIN_JS = (
    "(() => { const p = window.location.pathname.replace(/\\/+$/, '') || '/';"
    f" if ({' || '.join(f'p.startsWith({path!r})' for path in NO_RETURN)}) return;"
    " const next = p + window.location.search;"
    " window.location.replace(next === '/' ? '/login' : '/login?next=' + encodeURIComponent(next)); })()"
)


def safe_next(value: str | None) -> str:
    """Where sign-in may return to: a path on this site (``/training?tab=runs``), never another site
    (``//evil.example``, ``https://...``) or the sign-in pages themselves; ``/`` otherwise."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")) or any(c < " " for c in value):
        return "/"
    if value.split("?", 1)[0].rstrip("/") in NO_RETURN:
        return "/"
    return value


def login_url(path: str, query: str = "") -> str:
    """``/login?next=...`` for the page at ``path`` (+ ``query``)."""
    path = path.rstrip("/") or "/"  # the production server answers /training with /training/
    target = safe_next(path + (f"?{query}" if query else ""))
    return "/login" if target == "/" else "/login?" + urlencode({"next": target})


def role_at_least(role: str, needed: str) -> bool:
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


# What each signed-in page loads once the check passed: route pattern -> [(role needed, handler)].
_PAGE_LOADS: dict[re.Pattern[str], list[tuple[str, EventHandler]]] = {}


def guard(route: str, *loads: EventHandler | tuple[str, EventHandler], role: str = "rater") -> list[EventHandler]:
    """A signed-in page's ``on_load``: :meth:`AuthState.check`, which then runs ``loads``.

    Each load runs only when the person's role suffices: ``role`` by default, or the role paired
    with it (``("trainer", AdapterState.load_adapters)``), so no page asks the API for what its
    visitor may not read. Chained on the server right after the check (no round trip).
    """
    pattern = re.compile(re.sub(r"\\\[[^/]+?\\\]", "[^/]+", re.escape(route.rstrip("/") or "/")) + "/?")
    _PAGE_LOADS[pattern] = [load if isinstance(load, tuple) else (role, load) for load in loads]
    return [AuthState.check]


def page_loads(path: str, role: str) -> list[EventHandler]:
    """The handlers :func:`guard` registered for the page at ``path`` that ``role`` may run."""
    for pattern, loads in _PAGE_LOADS.items():
        if pattern.fullmatch(path):
            return [handler for needed, handler in loads if role_at_least(role, needed)]
    return []


def handle_backend_exception(exception: Exception) -> EventSpec | None:
    """The app's backend exception handler: a handler that met a 401 (``SignedOut``, raised by
    ``error_text``) sends the browser to /login; anything else is reported as Reflex does."""
    if isinstance(exception, SignedOut):
        return rx.call_script(GO_TO_LOGIN_JS)
    return default_backend_exception_handler(exception)


class AuthState(rx.State):
    """The signed-in person as the page shows them (empty until the first check)."""

    username: str = ""
    display_name: str = ""
    role: str = ""
    rater_id: int = 0
    auth: str = ""  # "on" | "off" (TD_AUTH) once known

    @rx.var
    def signed_in(self) -> bool:
        return bool(self.username)

    @rx.var
    def auth_off(self) -> bool:
        return self.auth == "off"

    @rx.var
    def is_trainer(self) -> bool:
        return role_at_least(self.role, "trainer")

    @rx.var
    def is_admin(self) -> bool:
        return role_at_least(self.role, "admin")

    @rx.var
    def name(self) -> str:
        return self.display_name or self.username

    @rx.event
    async def check(self):  # type: ignore[no-untyped-def]
        """On load of every page but /login and /setup: who is signed in (``GET /api/auth/me``).

        A plain (not background) handler on purpose: the page's other loaders queue behind it, so
        they find the role already set.
        """
        try:
            async with api_client(self) as api:
                me = await api.me()
        except ApiError as exc:
            if exc.status == 401:
                self._forget()
                return rx.redirect(login_url(self.router.url.path, self.router.url.query), replace=True)
            return rx.toast.error(f"Could not check who is signed in: {error_text(exc)}")
        self.username, self.display_name, self.role = me.username, me.display_name or "", me.role
        self.rater_id, self.auth = me.rater_id or 0, me.auth
        return page_loads(self.router.url.path, self.role)

    def _forget(self) -> None:
        self.username, self.display_name, self.role, self.rater_id = "", "", "", 0


async def signed_in_rater(state: rx.State) -> int | None:
    """With sign-in on, the signed-in person's rater id; ``None`` with it off (or not yet known),
    where the listener picks a name under "Who is listening?" instead.

    Call it with the state unlocked or locked as the caller needs (``get_state`` needs the lock in a
    background handler).
    """
    auth = await state.get_state(AuthState)
    return auth.rater_id if auth.auth == "on" else None


__all__ = ["AuthState", "SignedOut", "guard", "handle_backend_exception", "login_url", "page_loads", "role_at_least",
           "safe_next", "signed_in_rater"]

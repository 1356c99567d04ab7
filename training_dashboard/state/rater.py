"""Who is listening. With sign-in on, the signed-in person (the API takes the rater from the
session); with it off (``TD_AUTH=off``), a name picked under "Who is listening?", remembered in
the browser (localStorage)."""

from __future__ import annotations

import dataclasses

import reflex as rx

from training_dashboard import schemas
from training_dashboard.state.api import api_client, error_text
from training_dashboard.state.auth import signed_in_rater
from training_dashboard.state.loading import load
from training_dashboard.state.signals import Signal

RATER_CHOSEN = Signal()  # the pages whose content is per rater connect their reload to it
NO_LISTENER = rx.toast.error("Choose who is listening first")


async def listener_id(state: rx.State) -> int:
    """The rater id to send with ratings, votes and queue requests (0: nobody yet).

    In a background handler call it inside ``async with self``.
    """
    signed_in = await signed_in_rater(state)
    if signed_in is not None:
        return signed_in
    return (await state.get_state(RaterState)).current_id


@dataclasses.dataclass
class RaterOption:
    id: int
    name: str
    ratings: int


def rater_problem(name: str, taken: list[str]) -> str:
    """Why a new name cannot be added ("" when it can)."""
    name = name.strip()
    if not name:
        return ""
    try:
        schemas.RaterCreate(name=name)
    except ValueError:
        return "Use letters, digits, spaces, '.', '_' and '-' (up to 100), starting with a letter or digit"
    if name.lower() in {t.lower() for t in taken}:
        return f"'{name}' is already on the list: pick it above"
    return ""


class RaterState(rx.State):
    # Kept in the browser: the same person stays selected across visits and tabs.
    rater_id: str = rx.LocalStorage("", name="td_rater_id", sync=True)
    rater_name: str = rx.LocalStorage("", name="td_rater_name", sync=True)
    raters: list[RaterOption] = []
    new_name: str = ""
    switching: bool = False
    loading: bool = False

    @rx.var
    def current_id(self) -> int:
        """The rater id to send with feedback (0: nobody chosen yet)."""
        return schemas.parse_int(self.rater_id) or 0

    @rx.var
    def name_problem(self) -> str:
        return rater_problem(self.new_name, [r.name for r in self.raters])

    @rx.var
    def can_add(self) -> bool:
        return bool(self.new_name.strip()) and not self.name_problem

    @rx.event
    def set_new_name(self, value: str) -> None:
        self.new_name = value

    @rx.event
    def name_key(self, key: str):  # type: ignore[no-untyped-def]
        """Enter in the name field adds the name."""
        return RaterState.add_rater if key == "Enter" else None

    @rx.event
    def open_picker(self):  # type: ignore[no-untyped-def]
        self.switching = True
        return RaterState.load_raters

    @rx.event
    def close_picker(self) -> None:
        if self.current_id:
            self.switching = False

    @rx.event(background=True)
    async def load_raters(self):  # type: ignore[no-untyped-def]
        if error := await load(self, api_client, lambda api: api.list_raters(), self._show):
            yield rx.toast.error(f"Could not load raters: {error}")

    def _show(self, listed: list[schemas.RaterPublic]) -> None:
        self.raters = [RaterOption(id=r.id, name=r.name, ratings=r.rating_count) for r in listed]
        if self.current_id and self.current_id not in {r.id for r in listed}:
            self.rater_id, self.rater_name = "", ""  # the database was reset: choose again

    @rx.event
    def choose(self, rater_id: int, name: str):  # type: ignore[no-untyped-def]
        self.rater_id, self.rater_name, self.switching = str(rater_id), name, False
        # /rate's queue and /evaluate's blind pairs are per rater: the page shown starts over
        return [rx.toast.info(f"Listening as {name}"), *RATER_CHOSEN.handlers(self.router.url.path)]

    @rx.event
    async def add_rater(self):  # type: ignore[no-untyped-def]
        if not self.can_add:
            return
        try:
            async with api_client(self) as api:
                rater = await api.create_rater(schemas.RaterCreate(name=self.new_name.strip()))
        except Exception as exc:  # noqa: BLE001
            yield rx.toast.error(f"Could not add the rater: {error_text(exc)}")
            return
        self.raters = sorted([*self.raters, RaterOption(id=rater.id, name=rater.name, ratings=0)],
                             key=lambda r: r.name)
        self.new_name = ""
        yield RaterState.choose(rater.id, rater.name)

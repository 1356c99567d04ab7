"""A plain HTML form that the browser submits itself (sign-in, set-up, sign-out).

``rx.form`` and ``rx.el.form`` always call ``preventDefault`` and hand the fields to a Reflex event.
The session cookie is HttpOnly and set by the API's answer, so these forms must reach the API as a
real navigation: the browser posts, follows the 303, and the page it lands on opens a new websocket
that carries the new cookie. Works without JavaScript, too.
"""

from __future__ import annotations

import reflex as rx
from reflex_components_core.el.elements.forms import Form

from training_dashboard.state.api import api_path


class NativeForm(Form):
    """``<form action=... method="post">`` with no Reflex submit handler."""

    @classmethod
    def create(cls, *children, **props):  # type: ignore[no-untyped-def]
        # Skip Form.create, which adds on_submit=prevent_default and the handler hook.
        return super(Form, cls).create(*children, **props)


def native_form(*children: rx.Component, action: str, testid: str, **props: object) -> rx.Component:
    return NativeForm.create(*children, action=api_path(action), method="post",
                             custom_attrs={"data-testid": testid}, **props)


def hidden(name: str, value: rx.Var[str] | str) -> rx.Component:
    return rx.el.input(type="hidden", name=name, value=value)

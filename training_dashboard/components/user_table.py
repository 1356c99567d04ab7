"""/admin's users: the create form, the table (role, disable/enable, set password) and the password dialog."""

from __future__ import annotations

import reflex as rx

from training_dashboard.components.layout import field, loading_table, panel_header, stack_card
from training_dashboard.state.admin import AdminState, UserRow
from training_dashboard.state.auth import ROLES, AuthState


def _role_select(user: UserRow) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(variant="soft", custom_attrs={"data-testid": "user-role-select",
                                                        "aria-label": "Role of " + user.username}),
        rx.select.content(*(rx.select.item(role, value=role) for role in ROLES)),
        value=user.role, on_change=lambda role: AdminState.change_role(user.id, role), size="1",
    )


def _user_row(user: UserRow) -> rx.Component:
    me = user.username == AuthState.username
    return rx.table.row(
        rx.table.row_header_cell(rx.vstack(
            rx.text(user.display_name, weight="medium", size="2"),
            rx.text(user.username, size="1", color_scheme="gray"),
            spacing="0")),
        rx.table.cell(_role_select(user)),
        rx.table.cell(rx.cond(user.disabled, rx.badge("disabled", color_scheme="red"),
                              rx.badge("active", color_scheme="green"))),
        rx.table.cell(rx.cond(user.has_password, rx.text("set", size="2"),
                              rx.text("none", size="2", color_scheme="gray"))),
        rx.table.cell(user.last_login),
        rx.table.cell(rx.hstack(
            rx.button("Set password", size="1", variant="soft",
                      on_click=AdminState.open_password(user.id, user.username),
                      custom_attrs={"data-testid": "user-set-password"}),
            rx.cond(user.disabled,
                    rx.button("Enable", size="1", variant="soft", color_scheme="green",
                              on_click=AdminState.set_disabled(user.id, False),
                              custom_attrs={"data-testid": "user-enable"}),
                    rx.button("Disable", size="1", variant="soft", color_scheme="red", disabled=me,
                              on_click=AdminState.set_disabled(user.id, True),
                              custom_attrs={"data-testid": "user-disable"})),
            spacing="2")),
        custom_attrs={"data-testid": "user-row", "data-username": user.username},
    )


def create_user_form() -> rx.Component:
    s = AdminState
    return rx.vstack(
        rx.flex(
            rx.box(field("Username", rx.input(value=s.new_username, on_change=s.set_new_username,
                                              placeholder="lower-case, e.g. kim.lee", max_length=64,
                                              custom_attrs={"data-testid": "new-username"})), flex="1",
                   min_width="10em"),
            rx.box(field("Display name", rx.input(value=s.new_display, on_change=s.set_new_display,
                                                  placeholder="Kim Lee", max_length=100,
                                                  custom_attrs={"data-testid": "new-display"})), flex="1",
                   min_width="10em"),
            rx.box(field("Role", rx.select.root(
                rx.select.trigger(custom_attrs={"data-testid": "new-role"}),
                rx.select.content(*(rx.select.item(role, value=role) for role in ROLES)),
                value=s.new_role, on_change=s.set_new_role)), min_width="8em"),
            rx.box(field("Password", rx.input(value=s.new_password, on_change=s.set_new_password, type="password",
                                              placeholder="12+ characters, or none", auto_complete="new-password",
                                              custom_attrs={"data-testid": "new-password"})), flex="1",
                   min_width="12em"),
            rx.button("Create user", on_click=s.create_user, loading=s.creating, disabled=~s.can_create,
                      custom_attrs={"data-testid": "user-create"}),
            spacing="3", align="end", wrap="wrap", width="100%",
        ),
        rx.text("Without a password the person signs in by single sign-on, or once you set one.", size="1",
                color_scheme="gray"),
        rx.cond(s.create_error, rx.text(s.create_error, size="2", color_scheme="red",
                                        custom_attrs={"data-testid": "user-create-error"})),
        spacing="1", width="100%",
    )


def password_dialog() -> rx.Component:
    s = AdminState
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Set the password of ", s.password_name),
            rx.dialog.description("At least 12 characters. Tell them through a channel you trust.", size="2"),
            rx.vstack(
                rx.input(value=s.password_value, on_change=s.set_password_value, type="password",
                         auto_complete="new-password", width="100%", custom_attrs={"data-testid": "password-value"}),
                rx.hstack(
                    rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray")),
                    rx.button("Set password", on_click=s.save_password, disabled=~s.password_ok,
                              custom_attrs={"data-testid": "password-save"}),
                    justify="end", spacing="2", width="100%"),
                spacing="3", padding_top="1em"),
        ),
        open=s.password_for > 0, on_open_change=s.close_password,
    )


def users_panel() -> rx.Component:
    s = AdminState
    headers = ("User", "Role", "Status", "Password", "Last sign-in", "")
    return stack_card(
        panel_header("Users"),
        rx.text("A role change, a disabled account or a new password takes effect on that person's next request, "
                "in every tab.", size="2", color_scheme="gray"),
        create_user_form(),
        rx.cond(s.error, rx.callout(s.error, color_scheme="red", size="1", icon="circle_alert")),
        loading_table(s.loaded, headers, s.users, _user_row, "users-table"),
        password_dialog(),
        testid="admin-users", spacing="3",
    )

"""Who a request acts as: the plain value the API hands the services (no HTTP objects below api/)."""

from __future__ import annotations

from dataclasses import dataclass

from training_dashboard import schemas


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: a user, through a session, a personal token, or ``off`` mode."""

    user_id: int
    username: str
    display_name: str
    role: schemas.Role
    rater_id: int
    via: str = "session"  # "session" | "token" | "off"
    credential_id: int | None = None  # the session's or token's id

    def has(self, role: schemas.Role) -> bool:
        return schemas.ROLES.index(self.role) >= schemas.ROLES.index(role)

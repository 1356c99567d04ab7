"""Shared pieces of the API contract: limits, validated field types, the base model, pages."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

T = TypeVar("T")

MAX_PROMPT_CHARS = 2000
MAX_TAGS = 20
MAX_PAGE = 1_000_000
MAX_SEED = 2**32 - 1
MAX_ID = 2**31 - 1  # ids are 32-bit INTEGER columns on PostgreSQL


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _no_control_chars(value: str) -> str:
    if any(ord(c) < 32 and c not in "\n\t\r" for c in value):
        raise ValueError("must not contain control characters")
    return value


UTCDateTime = Annotated[datetime, AfterValidator(_utc)]
CleanStr = Annotated[str, AfterValidator(_no_control_chars)]
Tag = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=64, pattern=r"^[^\x00-\x1f]+$"),
]
NAME_RE = r"^[^\W_][\w .\-]*\Z"  # letters (any script), digits, space . _ -; no path separators


def _name(value: str) -> str:
    if not re.match(NAME_RE, value):
        raise ValueError("use letters, digits, spaces, '.', '_' and '-' only, starting with a letter or digit")
    return value


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), AfterValidator(_name)]
Score = Annotated[int, Field(ge=1, le=5, strict=True)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]

_ASCII_INT = re.compile(r"[0-9]{1,18}")  # at most 18 digits: int() stays cheap and within 64 bits


def parse_int(text: str | None, low: int = 1, high: int = MAX_ID) -> int | None:
    """``text`` as a whole number from ``low`` to ``high``, or None when it is not one.

    Only ASCII digits count: ``str.isdigit()`` also accepts "³", "٣" or full-width "１", which
    ``int()`` refuses or reads differently, so check-then-convert with it turns bad input into a 500.
    No sign, no spaces (strip first where spaces are allowed), no underscores.
    """
    if text is None or not _ASCII_INT.fullmatch(text):
        return None
    value = int(text)
    return value if low <= value <= high else None


_ASCII_DECIMAL = re.compile(r"(?:[0-9]{1,9}(?:\.[0-9]{0,9})?|\.[0-9]{1,9})")


def parse_float(text: str | None, low: float, high: float) -> float | None:
    """``text`` (spaces around it allowed) as a plain decimal from ``low`` to ``high``, or None.

    ASCII digits and one point only: ``float()`` also reads "１.５", "1_0", "1e3", "nan" and "inf",
    none of which a person typing seconds or a percentage means.
    """
    if text is None or not _ASCII_DECIMAL.fullmatch(text := text.strip()):
        return None
    value = float(text)
    return value if low <= value <= high else None


class Model(BaseModel):
    model_config = ConfigDict(from_attributes=True, extra="forbid")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int


class ErrorBody(BaseModel):
    detail: str


def _check_json(value: Any, depth: int) -> None:
    if depth > 10:
        raise ValueError("nested too deeply (max 10 levels)")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must not contain NaN or Infinity")
    if isinstance(value, dict):
        if len(value) > 500:
            raise ValueError("too many keys (max 500)")
        for item in value.values():
            _check_json(item, depth + 1)
    elif isinstance(value, list):
        if len(value) > 1000:
            raise ValueError("list too long (max 1000)")
        for item in value:
            _check_json(item, depth + 1)
    elif isinstance(value, str) and len(value) > 10_000:
        raise ValueError("string too long (max 10000)")


def slugify(name: str) -> str:
    """A filesystem-safe form of a user-chosen name (never a path)."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "dataset"
    return slug[:80]

"""The prompt library (issue 20): search over every prompt, favourites and shared templates."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator

from training_dashboard.schemas.common import MAX_PROMPT_CHARS, CleanStr, Id, Model, UTCDateTime, _no_control_chars
from training_dashboard.schemas.prompts import PromptAttributes, PromptPublic

PromptSort = Literal["relevance", "newest", "best_rated", "most_generated"]
MAX_QUERY_CHARS = 200
MAX_PLACEHOLDERS = 10

# A placeholder: {name}, the name a letter then letters, digits or "_" (at most 32).
PLACEHOLDER_RE = re.compile(r"\{([A-Za-z][A-Za-z0-9_]{0,31})\}")


def placeholders(text: str) -> list[str]:
    """The distinct placeholder names of a template's text, in order of first appearance."""
    return list(dict.fromkeys(PLACEHOLDER_RE.findall(text)))


def placeholder_problem(text: str) -> str:
    """Why ``text`` is not a valid template text ("" when it is): every "{" and "}" must belong to
    a ``{name}`` placeholder."""
    rest = PLACEHOLDER_RE.sub("\x00", text)  # each placeholder one mark: a stray brace keeps its neighbours
    for index, char in enumerate(rest):
        if char in "{}":
            near = rest[max(0, index - 12):index + 13].replace("\x00", "{…}")
            return (f"'{char}' outside a placeholder near {near!r}: a placeholder is {{name}}, the name a letter "
                    "followed by up to 31 letters, digits or '_' (no spaces, no nesting, no empty {})")
    if len(placeholders(text)) > MAX_PLACEHOLDERS:
        return f"at most {MAX_PLACEHOLDERS} different placeholders"
    return ""


def fill_placeholders(text: str, values: dict[str, str]) -> str:
    """``text`` with each ``{name}`` replaced by ``values[name]`` (left as is when not given)."""
    return PLACEHOLDER_RE.sub(lambda m: values.get(m.group(1), m.group(0)), text)


class PromptQuery(Model):
    """The search's parameters: ``GET /api/prompts`` reads them from the query string."""

    q: Annotated[CleanStr, Field(max_length=MAX_QUERY_CHARS)] | None = None
    style: Annotated[CleanStr, Field(max_length=200)] | None = None
    mood: Annotated[CleanStr, Field(max_length=200)] | None = None
    adapter_id: Id | None = None
    min_mean_rating: Annotated[float, Field(ge=1, le=5, allow_inf_nan=False)] | None = None
    rated: bool | None = None
    favourite: bool | None = None
    sort: PromptSort = "relevance"
    page: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    limit: Annotated[int, Field(ge=1, le=200)] = 20


class LastGeneration(Model):
    """How the prompt was last generated: what "load it in the editor" fills in."""

    job_id: int
    adapter_id: int | None
    seed: int | None
    num_samples: int
    params: dict[str, Any]


class PromptHit(PromptPublic):
    generated: int = 0  # clips generated from it
    rating_count: int = 0
    mean_rating: float | None = None
    favourite: bool = False  # a favourite of the person asking
    last_generation: LastGeneration | None = None  # trainers only (it names the adapter)


class PromptFacet(Model):
    value: str
    count: int


class PromptFacets(Model):
    """The most used styles and moods: the search's filter chips."""

    styles: list[PromptFacet]
    moods: list[PromptFacet]


class FavouriteState(Model):
    prompt_id: int
    favourite: bool


TemplateName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]


def _template_text(value: str) -> str:
    value = _no_control_chars(value)
    if not value.strip():
        raise ValueError("must not be blank")
    if problem := placeholder_problem(value):
        raise ValueError(problem)
    return value


class TemplateCreate(Model):
    name: TemplateName
    text: Annotated[str, Field(min_length=1, max_length=MAX_PROMPT_CHARS)]
    attributes: PromptAttributes = PromptAttributes()

    @field_validator("name")
    @classmethod
    def _name_clean(cls, value: str) -> str:
        return _no_control_chars(value)

    @field_validator("text")
    @classmethod
    def _text_ok(cls, value: str) -> str:
        return _template_text(value)


class TemplatePatch(Model):
    name: TemplateName | None = None
    text: Annotated[str, Field(min_length=1, max_length=MAX_PROMPT_CHARS)] | None = None
    attributes: PromptAttributes | None = None

    @field_validator("name")
    @classmethod
    def _name_clean(cls, value: str | None) -> str | None:
        return None if value is None else _no_control_chars(value)

    @field_validator("text")
    @classmethod
    def _text_ok(cls, value: str | None) -> str | None:
        return None if value is None else _template_text(value)


class TemplatePublic(Model):
    id: int
    name: str
    text: str
    attributes: PromptAttributes
    placeholders: list[str]
    builtin: bool
    created_by: str | None  # the creator's username (None: built in)
    created_at: UTCDateTime
    updated_at: UTCDateTime

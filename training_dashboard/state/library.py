"""The studio's prompt library: search every prompt as you type, filter, star, and load one into the
editor with the settings and seed it was last generated with (nothing is generated until Generate).

Search is a background handler numbered by a request counter: while the next answer loads the list
keeps the previous one, and an answer that is no longer the latest request's is dropped.
"""

from __future__ import annotations

import dataclasses

import reflex as rx

from training_dashboard import schemas
from training_dashboard.state.api import api_client, error_text
from training_dashboard.state.history import HistoryState
from training_dashboard.state.rate import attributes_text
from training_dashboard.state.studio import JOB_ENDED, StudioState

PAGE_SIZE = 20
FACETS_SHOWN = 5
SORTS = {"relevance": "Relevance", "newest": "Newest", "best_rated": "Best rated", "most_generated": "Most generated"}
RATED = ("rated", "unrated")
# On a narrow screen the editor sits below the library: bring it into view once it is filled.
SHOW_EDITOR_JS = ("window.innerWidth < 768 && document.querySelector('[data-testid=\"prompt-text\"]')"
                  "?.scrollIntoView({behavior: 'smooth', block: 'center'})")


@dataclasses.dataclass
class LibraryHit:
    id: int
    text: str
    attributes: str
    generated: str  # "generated 3×" / "never generated"
    rating: str  # "★ 4.3 (12)" / "not rated"
    settings: str  # how it was last generated ("seed 42 · 5 s · 2 clips"), "" when never (or hidden)
    favourite: bool = False
    stats: list[str] = dataclasses.field(default_factory=list)  # the line under it, part by part


def brief(text: str) -> str:
    """An error text kept readable in a small panel: an answer that is a whole web page (an API older
    than this app, a proxy's error page) is named as such, and any text is cut short."""
    if "<html" in text[:300].lower() or "<!doctype" in text[:300].lower():
        return "the API answered with a web page instead of data (is it older than this app?)"
    return text if len(text) <= 300 else text[:299] + "…"


def brief_error(exc: BaseException) -> str:
    return brief(error_text(exc))


def top_values(values: list[str], chosen: str) -> list[str]:
    """The facet chips: the most used values, and the chosen one wherever it ranks."""
    top = values[:FACETS_SHOWN]
    return top if not chosen or chosen in top else [*top, chosen]


def rating_text(hit: schemas.PromptHit) -> str:
    if hit.mean_rating is None or not hit.rating_count:
        return "not rated"
    return f"★ {hit.mean_rating:.1f} ({hit.rating_count})"


def settings_parts(last: schemas.LastGeneration | None) -> list[str]:
    if last is None:
        return []
    duration = last.params.get("duration")
    parts = ["random seed" if last.seed is None else f"seed {last.seed}",
             f"{float(duration):g} s" if isinstance(duration, int | float) else "",
             f"{last.num_samples} clip{'s' if last.num_samples != 1 else ''}"]
    return [p for p in parts if p]


def library_hit(hit: schemas.PromptHit) -> LibraryHit:
    generated = f"generated {hit.generated}×" if hit.generated else "never generated"
    rating, settings = rating_text(hit), settings_parts(hit.last_generation)
    return LibraryHit(id=hit.id, text=hit.text, attributes=attributes_text(hit.attributes), generated=generated,
                      rating=rating, settings=" · ".join(settings), favourite=hit.favourite,
                      stats=[generated, rating, *settings])


def hit_fields(hit: schemas.PromptHit) -> dict[str, str]:
    """The editor's fields that load a library prompt: its text and attributes and, when it was
    generated before, the duration, sample count, adapter and seed of that last generation (the way
    History's "Use this prompt" reproduces a job). Never generated: a random seed, the rest kept."""
    attrs = hit.attributes
    fields = {"text": hit.text, "style": attrs.style or "", "tempo": str(attrs.tempo) if attrs.tempo else "",
              "instruments": ", ".join(attrs.instruments), "mood": attrs.mood or "", "seed": ""}
    last = hit.last_generation
    if last is not None:
        duration = last.params.get("duration")
        if isinstance(duration, int | float):
            fields["duration"] = f"{float(duration):g}"
        fields["num_samples"] = str(min(max(last.num_samples, 1), 4))
        fields["adapter_choice"] = str(last.adapter_id) if last.adapter_id else "base"
        fields["seed"] = "" if last.seed is None else str(last.seed)
    return fields


class LibraryState(rx.State):
    query: str = ""
    favourites: bool = False
    rated: str = ""  # "" (either), "rated", "unrated"
    top_rated: bool = False  # mean rating 4 or more
    style: str = ""
    mood: str = ""
    sort: str = "relevance"

    hits: list[LibraryHit] = []
    total: int = 0
    page: int = 1
    highlighted: int = -1  # the result ↑/↓ moved to (-1: none yet)
    searching: bool = False
    loaded: bool = False  # a first answer came
    shown_query: str = ""  # the query the shown results answer
    error: str = ""
    style_facets: list[str] = []
    mood_facets: list[str] = []

    _request: int = 0
    _hits: dict[int, schemas.PromptHit] = {}

    @rx.var
    def filtered(self) -> bool:
        return bool(self.favourites or self.rated or self.top_rated or self.style or self.mood)

    @rx.var
    def empty_text(self) -> str:
        """What an empty result says to do."""
        if self.shown_query.strip():
            return f"Nothing matches '{self.shown_query.strip()}' — try fewer words"
        if self.favourites and not (self.rated or self.top_rated or self.style or self.mood):
            return "No favourites yet — star a prompt"
        if self.filtered:
            return "No prompts match these filters — clear one"
        return "No prompts yet — write one and press Generate"

    @rx.var
    def count_text(self) -> str:
        if not self.loaded or not self.total:
            return ""
        return f"{self.total} prompt{'s' if self.total != 1 else ''}" + (
            f" · showing {len(self.hits)}" if self.total > len(self.hits) else "")

    @rx.var
    def more(self) -> bool:
        return self.total > len(self.hits)

    def _query(self, page: int = 1) -> schemas.PromptQuery:
        text = "".join(c if c >= " " else " " for c in self.query).strip()  # a pasted control character
        return schemas.PromptQuery(
            q=text[:schemas.MAX_QUERY_CHARS] or None, style=self.style or None, mood=self.mood or None,
            min_mean_rating=4 if self.top_rated else None, rated={"rated": True, "unrated": False}.get(self.rated),
            favourite=True if self.favourites else None, sort=self.sort if self.sort in SORTS else "relevance",
            page=page, limit=PAGE_SIZE)

    @rx.event(background=True)
    async def load_library(self):  # type: ignore[no-untyped-def]
        """On the studio's load (trainers): the facets for the chips, then the first results."""
        try:
            async with api_client(self) as api:
                facets = await api.prompt_facets()
            async with self:  # a chosen chip stays on show, to be unchosen
                styles, moods = [f.value for f in facets.styles], [f.value for f in facets.moods]
                self.style_facets = top_values(styles, self.style)
                self.mood_facets = top_values(moods, self.mood)
        except Exception as exc:  # noqa: BLE001 - the chips are a convenience: search still works
            async with self:
                self.style_facets, self.mood_facets = [], []
            yield rx.toast.warning(f"Could not load the style and mood filters: {brief_error(exc)}")
        yield LibraryState.search

    @rx.event(background=True)
    async def search(self):  # type: ignore[no-untyped-def]
        """Ask for the current query and filters. The shown results stay until the answer comes."""
        await self._search(more=False)

    @rx.event(background=True)
    async def show_more(self):  # type: ignore[no-untyped-def]
        """The next page of the same search, appended."""
        await self._search(more=True)

    async def _search(self, more: bool) -> None:
        """One request, numbered: an answer overtaken by a newer request is dropped."""
        async with self:
            self._request += 1
            ticket, page = self._request, (self.page + 1 if more else 1)
            query, self.searching = self._query(page), True
        try:
            async with api_client(self) as api:
                answer = await api.search_prompts(query)
        except Exception as exc:  # noqa: BLE001 - shown in the panel, with a Retry
            error = brief_error(exc)
            async with self:
                if ticket == self._request:
                    self.error, self.searching = error, False
            return
        async with self:
            if ticket != self._request:
                return
            self._show(answer, query, append=more)

    def _show(self, answer: schemas.Page[schemas.PromptHit], query: schemas.PromptQuery, append: bool) -> None:
        items = [h for h in answer.items if not (append and h.id in self._hits)]
        self._hits = {**(self._hits if append else {}), **{h.id: h for h in items}}
        self.hits = [*(self.hits if append else []), *(library_hit(h) for h in items)]
        self.total, self.page = answer.total, query.page
        self.shown_query = query.q or ""
        if not append:
            self.highlighted = -1
        self.error, self.searching, self.loaded = "", False, True

    @rx.event
    def set_query(self, value: str):  # type: ignore[no-untyped-def]
        """The search box (debounced in the browser); Enter also sends it, unchanged: no new search."""
        if value == self.query:
            return None
        self.query = value
        return LibraryState.search

    @rx.event
    def clear_query(self):  # type: ignore[no-untyped-def]
        return LibraryState.set_query("")

    @rx.event
    def toggle_favourites(self):  # type: ignore[no-untyped-def]
        self.favourites = not self.favourites
        return LibraryState.search

    @rx.event
    def toggle_top_rated(self):  # type: ignore[no-untyped-def]
        self.top_rated = not self.top_rated
        return LibraryState.search

    @rx.event
    def toggle_rated(self, value: str):  # type: ignore[no-untyped-def]
        """The Rated / Not rated chips: one at a time, a second click clears it."""
        self.rated = "" if self.rated == value or value not in RATED else value
        return LibraryState.search

    @rx.event
    def toggle_style(self, value: str):  # type: ignore[no-untyped-def]
        self.style = "" if self.style == value else value
        return LibraryState.search

    @rx.event
    def toggle_mood(self, value: str):  # type: ignore[no-untyped-def]
        self.mood = "" if self.mood == value else value
        return LibraryState.search

    @rx.event
    def set_sort(self, value: str):  # type: ignore[no-untyped-def]
        self.sort = value if value in SORTS else "relevance"
        return LibraryState.search

    @rx.event
    def clear_filters(self):  # type: ignore[no-untyped-def]
        self.favourites, self.rated, self.top_rated, self.style, self.mood = False, "", False, "", ""
        return LibraryState.search

    @rx.event
    def key_down(self, key: str):  # type: ignore[no-untyped-def]
        """The search box's keys: ↑/↓ move the highlight (the box keeps the focus), Enter loads the
        highlighted result (the first when none is), Escape clears the box."""
        count = len(self.hits)
        if key in ("ArrowDown", "ArrowUp") and count:
            if key == "ArrowDown":
                self.highlighted = (self.highlighted + 1) % count
            else:
                self.highlighted = count - 1 if self.highlighted <= 0 else self.highlighted - 1
            return rx.call_script(f"document.getElementById('library-hit-{self.highlighted}')"
                                  "?.scrollIntoView({block: 'nearest'})")
        if key == "Enter" and count:
            return LibraryState.load_prompt(self.hits[min(max(self.highlighted, 0), count - 1)].id)
        if key == "Escape" and self.query:
            return LibraryState.clear_query
        return None

    @rx.event
    def highlight(self, index: int) -> None:
        self.highlighted = index

    @rx.event
    async def load_prompt(self, prompt_id: int):  # type: ignore[no-untyped-def]
        """Fill the editor with a result (its settings and seed too); Generate then reuses the prompt."""
        hit = self._hits.get(prompt_id)
        if hit is None:
            return None
        self.highlighted = next((i for i, h in enumerate(self.hits) if h.id == prompt_id), self.highlighted)
        studio = await self.get_state(StudioState)
        favourite = next((h.favourite for h in self.hits if h.id == prompt_id), hit.favourite)
        studio._load_fields(hit_fields(hit), prompt_id, favourite)
        seed = f"seed {studio.seed}" if studio.seed else "a random seed"
        return [rx.toast.info(f"Prompt #{prompt_id} loaded with {seed}: press Generate to hear it"),
                rx.call_script(SHOW_EDITOR_JS)]

    @rx.event
    async def star(self, prompt_id: int, favourite: bool):  # type: ignore[no-untyped-def]
        """Star (or unstar) a prompt for the person signed in: from a result, a History entry or the
        editor. Every place that shows the prompt follows."""
        if not prompt_id:
            return None
        try:
            async with api_client(self) as api:
                answer = await api.set_favourite(prompt_id, bool(favourite))
        except Exception as exc:  # noqa: BLE001
            return rx.toast.error(f"Could not {'star' if favourite else 'unstar'} prompt #{prompt_id}: "
                                  f"{brief_error(exc)}")
        self._mark_favourite(answer.prompt_id, answer.favourite)
        (await self.get_state(HistoryState))._mark_favourite(answer.prompt_id, answer.favourite)
        studio = await self.get_state(StudioState)
        if studio.prompt_id == answer.prompt_id:
            studio.prompt_favourite = answer.favourite
        return None

    def _mark_favourite(self, prompt_id: int, favourite: bool) -> None:
        # Unstarred under Favourites, a result stays until the next search: the list does not jump.
        for index, hit in enumerate(self.hits):
            if hit.id == prompt_id:
                self.hits[index] = dataclasses.replace(hit, favourite=favourite)
        if prompt_id in self._hits:
            self._hits[prompt_id] = self._hits[prompt_id].model_copy(update={"favourite": favourite})


JOB_ENDED.connect(LibraryState.search)  # a job changes its prompt's "generated N×" (or adds a prompt)

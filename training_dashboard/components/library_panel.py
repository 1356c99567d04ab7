"""The studio's library panel, beside the prompt editor: search every prompt as you type (↑/↓ and
Enter load one), filter chips and sort, stars, and the Templates tab."""

from __future__ import annotations

import reflex as rx

from training_dashboard.components.favourite_star import favourite_star
from training_dashboard.components.layout import error_retry, skeleton_rows, stack_card
from training_dashboard.components.template_list import template_dialogs, template_list
from training_dashboard.state.library import SORTS, LibraryHit, LibraryState
from training_dashboard.state.templates import TemplateState

GRAY = {"data-accent-color": "gray"}


def _chip(label: str | rx.Var[str], active: rx.Var[bool], on_click: rx.EventSpec | rx.EventHandler, testid: str,
          color: str = "iris", value: str | rx.Var[str] = "") -> rx.Component:
    return rx.button(label if not isinstance(label, rx.Var) else rx.el.span(label, class_name="td-ellipsis"),
                     size="1", radius="full", variant=rx.cond(active, "solid", "soft"),
                     color_scheme=rx.cond(active, color, "gray"), on_click=on_click, aria_pressed=active, type="button",
                     max_width="100%", custom_attrs={"data-testid": testid, "data-value": value, "title": value})


def search_box() -> rx.Component:
    s = LibraryState
    return rx.input(
        rx.input.slot(rx.icon("search", size=16)),
        rx.input.slot(rx.cond(s.searching, rx.spinner(size="1", custom_attrs={"data-testid": "library-searching"}),
                              rx.cond(s.query, rx.icon_button(rx.icon("x", size=14), size="1", variant="ghost",
                                                              color_scheme="gray", on_click=s.clear_query,
                                                              aria_label="Clear the search", type="button")))),
        value=s.query, on_change=s.set_query, on_key_down=s.key_down, debounce_timeout=250,
        placeholder="Search prompts, styles, moods…", auto_complete=False, spell_check=False,
        width="100%", size="2", type="search", name="library-search", enter_key_hint="search",
        custom_attrs={"data-testid": "library-search", "role": "combobox", "aria-expanded": "true",
                      "aria-controls": "library-results", "aria-label": "Search the prompt library",
                      "aria-autocomplete": "list",
                      "aria-activedescendant": rx.cond(s.highlighted >= 0, "library-hit-" + s.highlighted.to_string(),
                                                       "")},
    )


def _facet_row(label: str, values: rx.Var[list[str]], chosen: rx.Var[str], toggle: rx.EventHandler, testid: str,
               color: str) -> rx.Component:
    return rx.cond(values.length() > 0, rx.flex(
        rx.text(label, size="1", color_scheme="gray", width="3em", flex_shrink="0"),
        rx.foreach(values, lambda v: _chip(v, chosen == v, toggle(v), testid, color, v)),
        spacing="1", wrap="wrap", align="center", width="100%",
    ))


def filter_chips() -> rx.Component:
    s = LibraryState
    return rx.vstack(
        rx.flex(
            _chip(rx.fragment(rx.icon("star", size=12), "Favourites"), s.favourites, s.toggle_favourites,
                  "library-favourites", "amber"),
            _chip("Rated", s.rated == "rated", s.toggle_rated("rated"), "library-rated"),
            _chip("Not rated", s.rated == "unrated", s.toggle_rated("unrated"), "library-unrated"),
            _chip("★4+", s.top_rated, s.toggle_top_rated, "library-top-rated", "amber"),
            spacing="1", wrap="wrap", align="center", width="100%",
        ),
        _facet_row("Style", s.style_facets, s.style, s.toggle_style, "library-style", "iris"),
        _facet_row("Mood", s.mood_facets, s.mood, s.toggle_mood, "library-mood", "teal"),
        spacing="1", width="100%", custom_attrs={"data-testid": "library-chips"},
    )


def sort_select() -> rx.Component:
    s = LibraryState
    return rx.hstack(
        rx.text("Sort", size="1", color_scheme="gray", as_="label"),
        rx.select.root(
            rx.select.trigger(custom_attrs={"data-testid": "library-sort", "aria-label": "Sort the results"}),
            rx.select.content(*(rx.select.item(label, value=value) for value, label in SORTS.items())),
            value=s.sort, on_change=s.set_sort, size="1",
        ),
        rx.spacer(),
        rx.text(s.count_text, size="1", color_scheme="gray", custom_attrs={"data-testid": "library-count"}),
        align="center", width="100%", spacing="2",
    )


def _hit(hit: LibraryHit, index: rx.Var[int]) -> rx.Component:
    """One result, drawn as plain elements wearing Radix Themes' classes (cheap to redraw while typing)."""
    active = LibraryState.highlighted == index
    return rx.el.div(
        rx.el.div(
            rx.el.p(hit.text, class_name="rt-Text rt-r-size-2 td-grow td-clamp",
                    custom_attrs={"data-testid": "library-hit-text", "title": hit.text}),
            favourite_star(hit.id, hit.favourite, "library-star"),
            class_name="rt-Flex rt-r-ai-start rt-r-gap-2",
        ),
        rx.cond(hit.attributes, rx.el.p(hit.attributes, class_name="rt-Text rt-r-size-1 td-wrap", custom_attrs=GRAY)),
        rx.el.p(rx.foreach(hit.stats, lambda part: rx.el.span(part, class_name="td-part")),
                class_name="rt-Text rt-r-size-1 td-parts", custom_attrs={**GRAY, "data-testid": "library-hit-stats"}),
        id="library-hit-" + index.to_string(), class_name="td-hit", on_click=LibraryState.load_prompt(hit.id),
        custom_attrs={"role": "option", "aria-selected": rx.cond(active, "true", "false"), "data-testid": "library-hit",
                      "data-prompt-id": hit.id.to_string(), "title": "Load into the editor"},
    )


def results() -> rx.Component:
    s = LibraryState
    return rx.cond(
        ~s.loaded & (s.error == ""),
        skeleton_rows(3),
        rx.box(
            error_retry("Search failed", s.error, LibraryState.search, "library-error"),
            rx.cond(
                s.hits.length() > 0,
                rx.el.div(rx.foreach(s.hits, _hit), id="library-results", class_name="td-hits",
                          custom_attrs={"role": "listbox", "aria-label": "Prompts", "data-testid": "library-results",
                                        "aria-busy": rx.cond(s.searching, "true", "false")}),
                rx.cond(s.error == "", rx.flex(
                    rx.text(s.empty_text, size="2", color_scheme="gray", custom_attrs={"data-testid": "library-empty"}),
                    rx.cond(s.filtered, rx.button("Clear filters", size="1", variant="soft", on_click=s.clear_filters,
                                                  type="button")),
                    direction="column", spacing="2", align="start", padding_y="0.5em")),
            ),
            rx.cond(s.more, rx.button("Show more", size="1", variant="ghost", on_click=LibraryState.show_more,
                                      loading=s.searching, type="button", margin_top="0.5em",
                                      custom_attrs={"data-testid": "library-more"})),
            width="100%",
        ),
    )


def search_view() -> rx.Component:
    return rx.vstack(search_box(), filter_chips(), sort_select(), results(), spacing="2", width="100%",
                     align="stretch")


def library_panel() -> rx.Component:
    return stack_card(
        rx.tabs.root(
            rx.tabs.list(
                rx.tabs.trigger("Prompts", value="prompts", custom_attrs={"data-testid": "library-tab-prompts"}),
                rx.tabs.trigger(rx.text("Templates ", rx.cond(TemplateState.loaded, TemplateState.templates.length()
                                                              .to_string(), "")),
                                value="templates", custom_attrs={"data-testid": "library-tab-templates"}),
                size="1",
            ),
            rx.tabs.content(search_view(), value="prompts", padding_top="0.75em"),
            rx.tabs.content(template_list(), value="templates", padding_top="0.75em"),
            default_value="prompts", width="100%",
        ),
        template_dialogs(),
        testid="library-panel", custom_attrs={"aria-label": "Prompt library"},
    )

"""Property-based fuzz of the whole API from its own OpenAPI schema (schemathesis), sent
concurrently to two real server processes sharing one data dir.

Positive and negative cases for every operation, against a database seeded with real rows
(so ids often hit), bounded to a few dozen examples per operation. Path-like fields (an
adapter's ``path`` and ``base_model``, names that become directory names) often get long and
odd values instead: 999-character names, 256-byte components, ``..``, symlinks that loop or
escape, NUL, unicode, trailing slashes. Any query parameter, numeric path segment or top-level
body field may get Unicode digits ("³", "٣"), full-width forms ("１２", "ｂａｓｅ") or combining
marks instead (``str.isdigit()`` takes some of them, ``int()`` does not). Each generated case is
sent while a second thread replays an earlier case of any operation against either server, so
requests always overlap (an export racing a delete, two registrations of one adapter...).

The property: never a 5xx, every 4xx says why in ``detail``, and no server logs an
unhandled error (which also catches a stream that breaks after its headers went out).

Every request carries the admin's personal access token (sign-in is on), so it reaches the
routes rather than stopping at 401. The random cases skip the two operations that could take
that token away for the rest of the run (revoking a token, disabling or demoting a user); the
Unicode sweep still sends them.
"""

from __future__ import annotations

import itertools
import os
import random
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.factories import make_clips, make_lora_dir
from tests.hardening.server import ApiServer
from tests.hardening.test_crash import _seed_clips

FUZZ_EXAMPLES = 20
# Could revoke the fuzzer's own token or disable its admin: every later case would only see 401.
TAKES_AWAY_CREDENTIALS = {("PATCH", "/api/users/{user_id}"), ("DELETE", "/api/tokens/{token_id}")}
AUTH: dict[str, str] = {}  # the admin's token, set by the servers fixture
PATH_LIKE = ("path", "base_model", "name")  # body fields (and query parameters) that reach the filesystem

_COMPONENTS = ["..", ".", "", "seed-lora", "loop", "ping", "escape", "dangling", "plain-file", "a" * 255, "b" * 256,
               "é" * 128, "😀" * 63, "♪ ü", "0" * 999, "x\x00y", " ", "~", "~root", "C:\\", "%2e%2e", "\u202etxt.exe"]
_FIXED = ["0" * 999, "a" * 256, "é" * 200, "x/" * 499, "../" * 333, "/", "//", ".", "..", "~", "/etc/passwd",
          "/proc/self/root/etc", "/dev/zero", "seed-lora/", "seed-lora//", "./seed-lora", "seed-lora/.",
          "seed-lora/adapter_config.json", "seed-lora-link", "seed-lora-link/", "loop", "loop/x", "ping",
          "escape/etc", "dangling", "plain-file/x", "a\x00b", "\x00", "♪/ü/", "\n", " ", "\\\\?\\C:\\x"]
ODD_PATHS = st.one_of(
    st.sampled_from(_FIXED),
    st.builds(lambda lead, parts, trail: lead + "/".join(parts) + trail, st.sampled_from(["", "/", "./"]),
              st.lists(st.sampled_from(_COMPONENTS), min_size=1, max_size=6), st.sampled_from(["", "/", "//"])),
)

# Text that looks like a number to str.isdigit() but not to int() (or reads as another number),
# full-width forms of ASCII, and combining marks: each goes into one query parameter, path id or
# top-level body field of a case (a "³" adapter_id once answered 500).
_UNICODE_DIGITS = ["³", "²", "¹", "٣", "۴", "१", "১", "๓", "１", "０", "９", "₂", "⑦", "Ⅻ", "𝟕", "〇", "٠"]
_FULL_WIDTH = ["ｂａｓｅ", "１２", "ＡＢＣ", "－１", "＋１", "．", "／", "＼", "ｔｒｕｅ", "１．５", "\u3000"]
_COMBINING = ["\u0301", "\u0308", "\u20dd", "\u0336", "\u200d", "\ufe0f", "\u0663\u0301"]
ODD_TEXT = st.one_of(
    st.sampled_from(_UNICODE_DIGITS + _FULL_WIDTH),
    st.builds(lambda head, odd, mark: head + odd + mark, st.sampled_from(["", "1", "12", "base", "a", "-"]),
              st.sampled_from(_UNICODE_DIGITS + _FULL_WIDTH), st.sampled_from(["", *_COMBINING])),
    st.lists(st.sampled_from([*_UNICODE_DIGITS, *_COMBINING, "1", "ａ", "\uff10"]), min_size=1,
             max_size=8).map("".join),
)


def _with_odd_text(request: dict[str, Any], odd: str | None, pick: int) -> dict[str, Any]:
    """``request`` with one of its query parameters, numeric path segments or top-level body
    fields (the ``pick``-th, cyclically) set to ``odd``."""
    if odd is None:
        return request
    params, body = request.get("params") or {}, request.get("json")
    segments = request["url"].split("/")
    targets = [("query", k) for k in sorted(params)] + [("path", i) for i, part in enumerate(segments)
                                                         if part.isascii() and part.isdigit()]
    if isinstance(body, dict):
        targets += [("body", k) for k in sorted(body)]
    if not targets:
        return request
    where, key = targets[pick % len(targets)]
    if where == "query":
        return {**request, "params": {**params, key: odd}}
    if where == "path":
        return {**request, "url": "/".join(odd if i == key else part for i, part in enumerate(segments))}
    return {**request, "json": {**body, key: odd}}  # type: ignore[dict-item]


def _odd_filesystem(root) -> None:  # type: ignore[no-untyped-def]
    """Things in the adapter root that the odd paths run into."""
    make_lora_dir(root, "seed-lora")
    os.symlink(root / "seed-lora", root / "seed-lora-link")
    os.symlink(root / "loop", root / "loop")
    os.symlink(root / "ping", root / "pong")
    os.symlink(root / "pong", root / "ping")
    os.symlink("/", root / "escape")
    os.symlink(root / "nowhere", root / "dangling")
    (root / "plain-file").write_text("not an adapter")


@pytest.fixture(scope="module")
def servers(tmp_path_factory) -> Iterator[list[ApiServer]]:  # type: ignore[no-untyped-def]
    data_dir = tmp_path_factory.mktemp("fuzz") / "data"
    db, cfg, _ = _seed_clips(data_dir, 1)
    _odd_filesystem(cfg.resolved_adapter_roots[0])
    started = [ApiServer(data_dir).start(), ApiServer(data_dir).start()]
    AUTH.update(started[0].headers)
    try:
        with requests.Session() as c:
            c.headers.update(AUTH)
            url = started[0].url
            pid = c.post(f"{url}/prompts", json={"text": "seed prompt"}).json()["id"]
            ids = make_clips(db, cfg, pid, n=3)
            for audio_id in ids:
                c.post(f"{url}/feedback", json={"audio_id": audio_id, "rating": 4, "tags": ["seed"]})
            c.post(f"{url}/preferences", json={"chosen_id": ids[0], "rejected_id": ids[1]})
            c.post(f"{url}/datasets", json={"name": "seed"})
            c.post(f"{url}/adapters", json={"name": "seed-lora", "path": "seed-lora", "is_active": True})
        db.dispose()
        yield started
    finally:
        for server in started:
            server.stop()


class Overlap:
    """Sends each generated request together with a replay of an earlier one (of any
    operation, to either server) from a second thread, so two requests are always in flight."""

    def __init__(self, bases: list[str]) -> None:
        self.bases, self.pool, self.failures = bases, [], []  # type: ignore[var-annotated]
        self.replayed, self.in_flight, self.most_in_flight = 0, 0, 0
        self._lock, self._rng = threading.Lock(), random.Random(9)
        self._local = threading.local()
        self._executor = ThreadPoolExecutor(max_workers=1)

    def __enter__(self) -> Overlap:
        return self

    def __exit__(self, *exc: object) -> None:
        self._executor.shutdown(wait=True)

    def send(self, request: dict[str, Any], base: str) -> requests.Response:
        """Send ``request`` while a replay runs alongside; returns its response."""
        replay = self._executor.submit(self._replay, self._rng.choice(self.pool), self._rng.choice(self.bases)) \
            if self.pool else None
        try:
            return self._send(request, base)
        finally:
            if replay is not None:
                replay.result()
            self.pool.append(request)

    def _send(self, request: dict[str, Any], base: str) -> requests.Response:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
            self._local.session.headers.update(AUTH)
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            return self._local.session.request(**{**request, "url": base + request["url"]}, timeout=120)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _replay(self, request: dict[str, Any], base: str) -> None:
        response = self._send(request, base)
        problem = _problem(response)
        self.replayed += 1
        if problem:
            self.failures.append(f"{_where(request, response)}: {problem}")


def _problem(response: requests.Response) -> str | None:
    if response.status_code >= 500:
        return response.text[:500]
    if 400 <= response.status_code < 500:
        try:
            detail = response.json().get("detail")
        except ValueError:
            return f"not JSON: {response.text[:200]!r}"
        if not (isinstance(detail, str) and detail.strip()):
            return f"no detail: {response.text[:200]}"
    return None


def _where(request: dict[str, Any], response: requests.Response) -> str:
    body = request.get("json", request.get("data"))
    return f"{request['method']} {request['url']} {request.get('params')} {body!r:.300} -> {response.status_code}"


# Where a path-like value reaches the filesystem, the odd value goes into an otherwise valid
# request (the template; the version changes so a registration is not refused as a duplicate
# before its path is looked at), so it is the path that gets tested, not the fields around it.
ODD_TEMPLATES = {  # (method, path): (valid body, the fields that take the odd value)
    ("POST", "/api/adapters"): ({"name": "odd-path", "path": "seed-lora"}, ("path", "base_model")),
    ("POST", "/api/datasets"): ({"name": "odd-path"}, ("name",)),  # the name becomes an export dir's
}
_versions = itertools.count()


def _with_odd_path(request: dict[str, Any], odd: str | None, order: list[str]) -> dict[str, Any]:
    """``request`` with one path-like field (the first of ``order`` it has, in the body or the
    query) set to ``odd``."""
    if odd is None:
        return request
    template, fields = ODD_TEMPLATES.get((request["method"], request["url"]), ({}, ()))
    body, params = request.get("json"), request.get("params") or {}
    for key in order:
        if key in fields:
            body = {**template, key: odd}
            if "path" in template:
                body["version"] = f"1.0.{next(_versions)}"
            return {**request, "json": body, "data": None}
        if not fields and isinstance(body, dict) and key in body:
            return {**request, "json": {**body, key: odd}}
        if key in params:
            return {**request, "params": {**params, key: odd}}
    return request


def test_no_5xx_and_every_4xx_explains_under_concurrency(servers):  # type: ignore[no-untyped-def]
    bases = [s.url.removesuffix("/api") for s in servers]
    schema = schemathesis.openapi.from_url(f"{servers[0].url}/openapi.json")
    operations = [op for op in (result.ok() for result in schema.get_all_operations())
                  if (op.method.upper(), op.path) not in TAKES_AWAY_CREDENTIALS]
    assert len(operations) >= 25
    ran = 0
    with Overlap(bases) as overlap:
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @given(case=operation.as_strategy(generation_mode=mode), odd=st.none() | ODD_PATHS,
                       order=st.permutations(PATH_LIKE), server=st.integers(0, len(bases) - 1),
                       odd_text=st.none() | ODD_TEXT, pick=st.integers(0, 50))
                @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None, derandomize=True,
                          suppress_health_check=list(HealthCheck))
                def check(case, odd, order, server, odd_text, pick):  # type: ignore[no-untyped-def]
                    nonlocal ran
                    ran += 1
                    request = case.as_transport_kwargs(base_url=bases[0])  # the URL is kept relative:
                    request["url"] = request["url"].removeprefix(bases[0])  # either server gets it
                    request = _with_odd_path({k: v for k, v in request.items() if k != "cookies"}, odd, order)
                    request = _with_odd_text(request, odd_text, pick)
                    response = overlap.send(request, bases[server])
                    problem = _problem(response)
                    assert problem is None, f"{_where(request, response)}: {problem}"

                try:
                    check()
                except Unsatisfiable:
                    # No invalid input exists for this operation (e.g. no parameters at all).
                    assert mode == GenerationMode.NEGATIVE, operation.label
    print(f"fuzz: {ran} cases over {len(operations)} operations, {overlap.replayed} replayed alongside, "
          f"up to {overlap.most_in_flight} in flight")
    assert overlap.failures == [], "\n".join(overlap.failures[:10])
    assert overlap.most_in_flight == 2 and overlap.replayed == ran - 1
    for server in servers:
        log = server.log.read_text(errors="replace")
        assert "unhandled error" not in log and "Traceback" not in log, log[-4000:]


# Each of these in every declared query and path parameter and every top-level body field of a
# valid request, on every operation: "³" passes str.isdigit() and fails int(), "٣" is a decimal
# int() reads as 3, full-width and combining forms look like numbers or keywords.
SWEEP = ["³", "⑦", "٣", "１２", "1\u0301", "ｂａｓｅ"]


def _valid_request(operation: Any, base: str) -> dict[str, Any] | None:
    """One positive case of ``operation`` as request kwargs with a relative URL (None: none exists)."""
    found: list[dict[str, Any]] = []

    @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
    @settings(max_examples=1, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    def one(case):  # type: ignore[no-untyped-def]
        request = case.as_transport_kwargs(base_url=base)
        found.append({**{k: v for k, v in request.items() if k != "cookies"}, "url": request["url"].removeprefix(base)})

    try:
        one()
    except Unsatisfiable:
        return None
    return found[0] if found else None


def _sweep_targets(operation: Any, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """``request`` with each odd value of SWEEP in each parameter and top-level body field."""
    template = operation.path.strip("/").split("/")
    segments = request["url"].split("/")
    for odd in SWEEP:
        for parameter in operation.query:
            yield {**request, "params": {**(request.get("params") or {}), parameter.name: odd}}
        for parameter in operation.path_parameters:
            index = template.index("{" + parameter.name + "}") - len(template)  # from the end: /api comes first
            yield {**request, "url": "/".join(odd if i == len(segments) + index else part
                                              for i, part in enumerate(segments))}
        if isinstance(request.get("json"), dict):
            for key in request["json"]:
                yield {**request, "json": {**request["json"], key: odd}}


def test_unicode_digits_in_every_parameter(servers):  # type: ignore[no-untyped-def]
    base = servers[0].url.removesuffix("/api")
    schema = schemathesis.openapi.from_url(f"{servers[0].url}/openapi.json")
    failures, sent = [], 0
    with requests.Session() as http:
        http.headers.update(AUTH)
        last = lambda op: (op.method.upper(), op.path) in TAKES_AWAY_CREDENTIALS  # noqa: E731
        for operation in sorted((result.ok() for result in schema.get_all_operations()), key=last):
            request = _valid_request(operation, base)
            if request is None:
                continue
            for odd_request in _sweep_targets(operation, request):
                sent += 1
                try:
                    response = http.request(**{**odd_request, "url": base + odd_request["url"]}, timeout=120)
                except requests.ConnectionError as exc:  # the server broke the connection
                    failures.append(f"{odd_request['method']} {odd_request['url']} {odd_request.get('params')}: {exc}")
                    continue
                if problem := _problem(response):
                    failures.append(f"{_where(odd_request, response)}: {problem}")
    print(f"unicode sweep: {sent} requests")
    assert sent > 500 and failures == [], "\n".join(failures[:10])
    for server in servers:
        log = server.log.read_text(errors="replace")
        assert "unhandled error" not in log and "Traceback" not in log, log[-4000:]

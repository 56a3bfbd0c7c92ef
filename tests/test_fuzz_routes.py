"""Hostile input on every route, taken from the app's route table (not a hand list): for each GET and POST, as
each role, path ids, query parameters and form fields get values drawn by hypothesis from what broke Steady before
(ids past int32 and int64, NUL and control characters, dates in year 1 and 9999, ISO weeks out of range, 300-char
time zones, huge text) mixed with random text. No answer may be a 5xx. SQLite and PostgreSQL.

bench/fuzz_bench.py sends many more of the same requests and prints the counts."""

from __future__ import annotations

import asyncio
import inspect
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from server.accounts.models import Role, User
from server.web.templating import TEMPLATES_DIR
from tests.conftest import PASSWORD, Database
from tests.support.family import family_of
from tests.support.in_loop import in_loop_client
from tests.test_sharing_support import share

# Values that crashed Steady in an outside review, plus their neighbours.
HOSTILE_INTS = ["0", "-1", "2147483647", "2147483648", "9223372036854775807", "9223372036854775808", "1" * 40,
                "1e9", "0x10", " 7", "", "NaN"]  # fmt: skip
HOSTILE_TEXT = ["\x00", "a\x00b", "\x07bell", "\u202eevil", "x" * 300, "x" * 20_000, "Europe/" + "x" * 300,
                "../../etc/passwd", "%00", "9999-W52", "0000-W01", "2026-W99", "0001-01-01T00:00:00",
                "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-02-30", "99999-01-01",
                "<script>alert(1)</script>", "=HYPERLINK(1)", "'; DROP TABLE checkin; --", "🙂" * 50]  # fmt: skip
BASE_URL = "http://127.0.0.1:8000"
NOT_QUERY = {"request", "db_session", "settings", "data", "state", "scope", "headers", "cookies", "socket"}
TEMPLATE_FIELDS = sorted(
    set(re.findall(r'name="([a-z_]+)"', " ".join(p.read_text() for p in TEMPLATES_DIR.rglob("*.html"))))
    - {"_csrf_token", "viewport"}
)


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # with {name:type} placeholders
    params: tuple[str, ...]  # path parameter names
    query: tuple[str, ...]


def endpoints(app: Any) -> list[Endpoint]:
    found: list[Endpoint] = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            for method in sorted(handler.http_methods & {"GET", "POST"}):
                if route.path.startswith(("/static", "/sw.js", "/manifest")):
                    continue
                names = tuple(re.findall(r"{(\w+):", route.path))
                signature = inspect.signature(handler.fn)
                query = tuple(p for p in signature.parameters if p not in NOT_QUERY and p not in names and p != "self")
                found.append(Endpoint(method, route.path, names, query))
    return found


@pytest.fixture
def people(db: Database) -> Iterator[dict[str, User]]:
    therapist = db.make_user(Role.THERAPIST, "ther@example.org", name="Dr Tam")
    patient = db.make_user(Role.PATIENT, "pat@example.org", name="Pat", therapist=therapist)
    share(db, patient, therapist)
    yield {
        "admin": db.make_user(Role.ADMIN, "admin@example.org", name="Ada"),
        "therapist": therapist,
        "patient": patient,
        "family": family_of(db, patient, name="Robin", email="robin@example.org"),
    }


def _fill(path: str, draws: dict[str, str]) -> str:
    return re.sub(r"{(\w+):[^}]+}", lambda m: quote(draws.get(m.group(1), "1"), safe=""), path)


def _absolute(path: str, query: dict[str, str]) -> httpx.URL:
    """The URL httpx builds from a relative path and `params` (the same query encoding, QueryParams'), parsed once:
    httpx parses a relative URL, its join with the base and the added query again, each a pass over every character
    (20,000-character values included), a tenth of the fuzzer's CPU."""
    encoded = str(httpx.QueryParams(query))
    return httpx.URL(f"{BASE_URL}{path}?{encoded}" if encoded else f"{BASE_URL}{path}")


# A few hundred requests per example; no shrinking (a failure lists every request that failed instead).
@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "6")),
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
@given(data=st.data())
def test_no_route_answers_hostile_input_with_a_server_error(
    other_app: Any, db: Database, people: dict[str, User], data: st.DataObject
) -> None:
    table = endpoints(other_app)
    assert len(table) > 100  # the whole app, not a handful
    # Hypothesis draws a palette of random values and a seeded chooser (a draw per request would overrun its
    # buffer); every request then mixes the palette with the values that broke Steady before.
    pool = HOSTILE_INTS + HOSTILE_TEXT + data.draw(st.lists(st.text(max_size=40), min_size=4, max_size=12))
    # A plain Random seeded from hypothesis's data (as reproducible under derandomize): its "artificial" Random makes
    # each choice a hypothesis draw, about a tenth of the fuzzer's CPU.
    rng = data.draw(st.randoms(use_true_random=True))
    failures: list[str] = []
    sent = 0

    # The requests run in this test's event loop, the app's lifespan too (tests/support/in_loop.py): a few thousand per
    # example, each of which would otherwise cross to a test client's portal thread and back.
    async def sign_in(client: httpx.AsyncClient, email: str) -> str:
        client.cookies.clear()
        token = (await client.get("/login")).cookies["csrftoken"]
        signed_in = await client.post(
            "/login", data={"email": email, "password": PASSWORD, "_csrf_token": token}, follow_redirects=False
        )
        assert signed_in.status_code == 303, signed_in.text
        await client.get("/login")  # signing in drops the CSRF cookie: a new token per session
        return str(client.cookies["csrftoken"])

    async def hammer() -> None:
        nonlocal sent
        async with in_loop_client(other_app, BASE_URL) as client:
            for role, person in people.items():
                token = await sign_in(client, person.email)
                for endpoint in table:
                    started = time.monotonic()
                    url = _fill(endpoint.path, {name: rng.choice(pool) for name in endpoint.params})
                    query = {name: rng.choice(pool) for name in endpoint.query}
                    target = _absolute(url, query)
                    if endpoint.method == "GET":
                        response = await client.get(target, follow_redirects=False)
                    else:
                        fields = rng.sample(TEMPLATE_FIELDS, k=rng.randint(0, 6))
                        form = {name: rng.choice(pool) for name in fields} | {"_csrf_token": token}
                        response = await client.post(target, data=form, follow_redirects=False)
                    sent += 1
                    if os.environ.get("FUZZ_TRACE"):
                        took = time.monotonic() - started
                        print(f"{took:.2f}", role, endpoint.method, url[:80], response.status_code, flush=True)
                    if response.status_code >= 500:
                        failures.append(
                            f"{role} {endpoint.method} {url[:120]} {str(query)[:200]} -> {response.status_code}"
                        )
                    if endpoint.path == "/logout" or url.startswith("/account/delete"):
                        token = await sign_in(client, person.email)

    asyncio.run(hammer())
    assert sent > 400
    if os.environ.get("FUZZ_REPORT"):  # bench/fuzz_bench.py adds up every example's counts
        with open(os.environ["FUZZ_REPORT"], "a", encoding="utf-8") as out:
            out.write(f"{db.url.split(':')[0]} {sent} {len(failures)}\n")
    assert not failures, "\n".join(failures[:20])

"""The skills library organised by module (issue 15, "The look") over real HTTP on both databases: module chips
as links, one module's cards with favourites and what helped most first, search within a module, the htmx
fragment, and the "Helped you most" section from the person's own before/after ratings."""

from __future__ import annotations

from litestar.testing import TestClient

from server.accounts.models import User
from server.skills.catalogue import default_catalogue
from tests.conftest import Database, login, post_form
from tests.test_skills import add_practice

CATALOGUE = default_catalogue()


def _client(client: TestClient, db: Database) -> tuple[TestClient, User]:
    patient = db.make_user("patient", "look@example.org", name="Robin")
    login(client, patient.email)
    return client, patient


def _hrefs(html: str, start: str, end: str | None = None) -> list[str]:
    part = html[html.index(start) : html.index(end) if end else None]
    return [chunk.split('"', 1)[0] for chunk in part.split('class="skill-link" href="')[1:]]


def test_module_chips_are_links_and_a_module_shows_only_its_cards(client: TestClient, db: Database) -> None:
    client, _ = _client(client, db)
    overview = client.get("/skills").text
    assert 'aria-current="page"><span>All skills</span>' in overview
    for module in CATALOGUE.modules():
        assert f'href="/skills?module={module.id}"' in overview

    html = client.get("/skills", params={"module": "mindfulness"}).text
    at = html.index('data-module-chip="mindfulness"')
    chosen = html[at : html.index("</a>", at)]
    assert 'aria-current="page"' in chosen
    listed = _hrefs(html, 'data-skill-module="mindfulness"')
    assert sorted(listed) == sorted(f"/skills/{c.id}" for c in CATALOGUE.cards_in("mindfulness"))
    assert "data-skill-all" not in html  # the overview's hidden list isn't needed here
    assert 'name="module" value="mindfulness"' in html  # a search stays within the module

    # An unknown or hostile module value is just the overview, never an error.
    for value in ("nope", "x" * 5000, "<script>"):
        response = client.get("/skills", params={"module": value})
        assert response.status_code == 200 and 'aria-current="page"><span>All skills</span>' in response.text


def test_favourites_and_what_helped_most_come_first(client: TestClient, db: Database) -> None:
    client, patient = _client(client, db)
    cards = [c.id for c in CATALOGUE.cards_in("distress-tolerance")]
    favourite, helped_most, helped_less, unhelpful = cards[-1], cards[-2], cards[-3], cards[-4]
    post_form(client, f"/skills/{favourite}/favourite", {"favourite": "1"})
    add_practice(db, patient, helped_most, 9, 2)  # 7 points calmer
    add_practice(db, patient, helped_less, 6, 4)  # 2 points
    add_practice(db, patient, unhelpful, 4, 6)  # went up: never "helped"

    html = client.get("/skills", params={"module": "distress-tolerance"}).text
    listed = _hrefs(html, 'data-skill-module="distress-tolerance"')
    assert listed[:3] == [f"/skills/{favourite}", f"/skills/{helped_most}", f"/skills/{helped_less}"]
    assert "Your distress dropped 7 points on average" in html

    overview = client.get("/skills").text
    helped = _hrefs(overview, 'id="helped-h"', 'id="recent-h"')
    assert helped[:2] == [f"/skills/{helped_most}", f"/skills/{helped_less}"]
    assert f"/skills/{unhelpful}" not in helped
    assert overview.index('id="fav-h"') < overview.index('id="helped-h"') < overview.index('id="modules-h"')


def test_search_within_a_module_and_the_htmx_fragment(client: TestClient, db: Database) -> None:
    client, _ = _client(client, db)
    everywhere = [c.id for c in CATALOGUE.search("breath")]
    within = [c.id for c in CATALOGUE.search("breath") if c.module == "mindfulness"]
    assert len(within) < len(everywhere)
    html = client.get("/skills", params={"q": "breath", "module": "mindfulness"}).text
    assert sorted(_hrefs(html, 'id="results-h"')) == sorted(f"/skills/{c}" for c in within)
    assert "in Mindfulness match" in html or "in Mindfulness matches" in html

    fragment = client.get("/skills", params={"module": "interpersonal"}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert fragment.text.lstrip().startswith('<div id="skill-library"')
    # The search form's hidden module field outside the fragment is refreshed out of band.
    assert 'id="skill-module-field" name="module" value="interpersonal" hx-swap-oob="true"' in fragment.text
    assert 'hx-swap-oob' not in client.get("/skills", params={"module": "interpersonal"}).text

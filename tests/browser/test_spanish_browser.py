"""Spanish in a real Chromium at 390 px, one journey per role: the patient checks in, logs a craving, practises a
skill, opens crisis help and signs a consent; the therapist reads the week; the family member reads the feed.
Every page passes axe-core and the CSP, has <html lang="es">, and nothing overflows its box (Spanish runs about a
quarter longer than English)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, Page, expect

from server.accounts.models import Role, User
from server.localtime import local_today
from tests.browser.conftest import LiveServer, check_page, new_phone
from tests.conftest import PASSWORD, Database
from tests.support.family import family_of, run_all, set_sober_since, today_of
from tests.test_sharing_support import add_rows, checkin, share

# Anything wider than the 390 px viewport, or a button, chip or link whose text is cut off inside its own box.
OVERFLOW_PROBE = """() => {
  const problems = [];
  if (document.documentElement.scrollWidth > window.innerWidth + 1) {
    problems.push('page is ' + document.documentElement.scrollWidth + 'px wide');
  }
  for (const el of document.querySelectorAll('button, .button, a.chip, .chip, nav a, label, .badge, h1, h2')) {
    const box = el.getBoundingClientRect();
    // Screen-reader-only text is clipped to 1 px on purpose.
    if (box.width <= 1 || box.height <= 1 || getComputedStyle(el).visibility === 'hidden') continue;
    if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'visible') {
      problems.push(el.tagName + ' "' + el.textContent.trim().slice(0, 40) + '" clips its text');
    }
    if (box.right > window.innerWidth + 1) {
      problems.push(el.tagName + ' "' + el.textContent.trim().slice(0, 40) + '" runs off the screen');
    }
  }
  return problems;
}"""


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A phone whose browser asks for Mexican Spanish (so even the sign-in page answers in Spanish)."""
    context = new_phone(browser, locale="es-MX")
    yield context.new_page()
    context.close()


def spanish_page(page: Page) -> None:
    check_page(page)
    assert page.locator("html").get_attribute("lang") == "es", page.url
    assert page.evaluate(OVERFLOW_PROBE) == [], page.url


def speaks_spanish(db: Database, user: User) -> User:
    db.execute("UPDATE user_account SET locale = 'es' WHERE id = :id", id=user.id)
    return user


def sign_in(page: Page, server: LiveServer, user: User) -> None:
    page.context.clear_cookies()
    page.goto(f"{server.url}/login")
    page.get_by_label("Correo electrónico").fill(user.email)
    page.get_by_label("Contraseña").fill(PASSWORD)
    page.get_by_role("button", name="Iniciar sesión").click()
    page.wait_for_load_state("load")
    assert "/login" not in page.url


def test_a_patient_walks_through_steady_in_spanish(live_server: LiveServer, page: Page) -> None:
    db = live_server.db
    therapist = db.make_user(Role.THERAPIST, "rivera@example.org", name="Dra. Rivera")
    patient = speaks_spanish(db, db.make_user(Role.PATIENT, "lucia@example.org", name="Lucía Pérez",
                                              therapist=therapist))  # fmt: skip
    page.goto(f"{live_server.url}/login")
    spanish_page(page)
    sign_in(page, live_server, patient)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Hola, Lucía")
    spanish_page(page)

    page.goto(f"{live_server.url}/checkin")
    spanish_page(page)
    page.get_by_role("group", name="¿Cómo está tu ánimo ahora?").get_by_label("4", exact=True).check()
    page.get_by_role("group", name="¿Qué tan fuerte es alguna ansia ahora?").get_by_label("6", exact=True).check()
    page.get_by_role("group", name="¿Bebiste alcohol o consumiste drogas hoy?").get_by_label("No", exact=True).check()
    page.get_by_role("button", name="Guardar chequeo").click()
    expect(page.get_by_text("Guardado. Gracias por hacer tu chequeo.")).to_be_visible()
    spanish_page(page)

    page.goto(f"{live_server.url}/log")
    spanish_page(page)
    page.get_by_role("group", name="¿Qué tan fuerte es el ansia?").get_by_label("7", exact=True).check()
    page.get_by_role("group", name="¿Qué hiciste?").get_by_label("Usé una habilidad").check()
    page.get_by_role("group", name="¿Cómo terminó?").get_by_label("Se me pasó").check()
    page.get_by_role("button", name="Guardar ansia").click()
    expect(page.get_by_text("Lo resististe.")).to_be_visible()
    spanish_page(page)

    page.goto(f"{live_server.url}/skills")
    expect(page.get_by_role("heading", name="Explorar por módulo")).to_be_visible()
    spanish_page(page)
    page.get_by_role("navigation", name="Módulos de habilidades").get_by_role(
        "link", name="Tolerancia al malestar"
    ).click()
    expect(page.get_by_role("heading", name="Tolerancia al malestar")).to_be_visible()
    spanish_page(page)
    page.goto(f"{live_server.url}/skills/urge-surfing")
    expect(page.get_by_role("heading", level=1)).to_have_text("Surfear el impulso")
    spanish_page(page)
    before = page.get_by_role("group", name="¿Cuánto malestar sientes ahora?")
    before.get_by_label("8", exact=True).check()
    next_button = page.locator("[data-skill-next]")
    expect(next_button).to_have_text("Empezar")
    next_button.click()
    expect(page.get_by_role("heading", name="Paso 1 de 6")).to_be_visible()
    expect(page.get_by_text("Nota el impulso.")).to_be_visible()
    spanish_page(page)
    after = page.get_by_role("group", name="¿Cuánto malestar sientes ahora?").last
    while not after.is_visible():  # through the steps and the timer, one screen at a time
        skip = page.get_by_role("button", name="Omitir temporizador")
        if skip.is_visible():
            skip.click()
            spanish_page(page)
        next_button.click()
    after.get_by_label("5", exact=True).check()
    page.get_by_role("group", name="¿Te ayudó?").get_by_label("Un poco").check()
    spanish_page(page)
    page.get_by_role("button", name="Guardar mi práctica").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Guardado. Bien hecho por practicar.")
    expect(page.get_by_text("Son 3 puntos menos.")).to_be_visible()
    spanish_page(page)

    page.goto(f"{live_server.url}/crisis")
    expect(page.get_by_role("link", name="Escribe AYUDA al 988")).to_be_visible()
    spanish_page(page)

    page.goto(f"{live_server.url}/sharing/consent/new?therapist={therapist.id}")
    spanish_page(page)
    page.get_by_label("Ánimo y sueño").check()
    page.get_by_label("Último día en que se comparte").fill((local_today(patient) + timedelta(days=60)).isoformat())
    page.get_by_label("Tu nombre completo").fill("Lucía Pérez")
    page.get_by_role("button", name="Firmar y compartir").click()
    expect(page.locator("main")).to_contain_text("Gracias. Tu terapeuta ya puede ver")
    spanish_page(page)


def test_a_therapist_and_a_family_member_read_in_spanish(live_server: LiveServer, page: Page) -> None:
    db = live_server.db
    therapist = speaks_spanish(db, db.make_user(Role.THERAPIST, "rivera@example.org", name="Dra. Rivera"))
    sam = db.make_user(Role.PATIENT, "sam@example.org", name="Sam Lee", therapist=therapist)
    today = local_today(sam)
    add_rows(db, [checkin(sam, today - timedelta(days=i), 3 + i % 5, 9 if i == 2 else 2) for i in range(1, 12)])
    share(db, sam, therapist, data_from=today - timedelta(days=14))
    robin = speaks_spanish(db, family_of(db, sam, name="Robin", email="robin@example.org", locale="es"))
    set_sober_since(db, sam, today_of(sam) - timedelta(days=30))
    run_all(db)

    sign_in(page, live_server, therapist)
    page.goto(f"{live_server.url}/therapist")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert "Pacientes que comparten contigo" in page.locator("main").inner_text()
    spanish_page(page)
    page.get_by_role("link", name="Sam Lee").first.click()
    expect(page.get_by_role("button", name="Imprimir")).to_be_visible()
    assert "normas federales de confidencialidad" in page.locator("main").inner_text()
    spanish_page(page)

    sign_in(page, live_server, robin)
    expect(page.get_by_text("Sam Lee llegó a 30 días sin consumir")).to_be_visible()
    spanish_page(page)
    page.get_by_role("link", name="Sobre el programa").click()
    spanish_page(page)

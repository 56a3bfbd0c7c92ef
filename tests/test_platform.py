"""Platform pieces: shared stores, the manifest, static versioning, logging without personal data, the CLI."""

from __future__ import annotations

import json
import logging
import re

from click.testing import CliRunner
from litestar.testing import TestClient

from server.accounts.models import Role
from server.cli import main as cli
from tests.conftest import Database, login, post_form


def test_every_named_store_is_shared_through_the_database(app_factory: object, db: Database) -> None:
    """Two app instances (think: two processes) see the same store values: nothing falls back to memory."""
    first, second = app_factory(), app_factory()
    with TestClient(app=first) as one, one.portal() as portal:
        store = first.stores.get("rate_limit")
        portal.call(store.set, "k", b"v", 60)
    with TestClient(app=second) as two, two.portal() as portal:
        other = second.stores.get("rate_limit")
        assert portal.call(other.get, "k") == b"v"
    assert type(store).__name__ == "SQLAlchemyStore"
    assert db.scalar("SELECT count(*) FROM kv_store") == 1


def test_manifest_makes_the_app_installable(client: TestClient) -> None:
    response = client.get("/manifest.webmanifest")
    assert response.headers["content-type"].startswith("application/manifest+json")
    manifest = json.loads(response.text)
    assert manifest["display"] == "standalone" and manifest["scope"] == "/"
    assert {"192x192", "512x512"} <= {icon["sizes"] for icon in manifest["icons"]}
    assert any(icon.get("purpose") == "maskable" for icon in manifest["icons"])
    for icon in manifest["icons"]:
        assert client.get(icon["src"]).headers["content-type"] == "image/png"


def test_assets_have_content_hashed_urls_and_the_worker_lists_them(client: TestClient) -> None:
    page = client.get("/login").text
    css = re.search(r'href="(/static/css/app\.css\?v=[0-9a-f]{10})"', page)
    assert css, "the stylesheet URL carries a content hash"
    worker = client.get("/sw.js").text
    assert css.group(1) in worker and "/offline" in worker
    assert re.search(r'var VERSION = "[0-9a-f]{12}"', worker)


def test_request_logs_carry_ids_but_no_personal_data(client: TestClient, db: Database, capsys: object) -> None:
    patient = db.make_user(Role.PATIENT, "secret.person@example.org", name="Secretname")
    login(client, patient.email)
    response = post_form(client, "/account/profile", {"name": "Secretname", "timezone": "UTC", "locale": "en",
                                                        "phone": "555-0199"})
    assert response.status_code == 303
    logging.getLogger("steady").handlers[0].flush()
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any(line.get("path") == "/account/profile" and line.get("status") == 303 for line in lines)
    assert all(line["request_id"] != "-" for line in lines if line.get("msg") == "request")
    for secret in ("secret.person", "Secretname", "555-0199", "a calm blue lake", client.cookies["steady_session"]):
        assert secret not in err


def test_cli_creates_the_first_admin_once_and_invites(database_url: str, tmp_path: object, db: Database) -> None:
    env = {"DATABASE_URL": database_url, "STEADY_DATA_DIR": str(tmp_path), "SECRET_KEY": "k" * 40}
    runner = CliRunner()
    args = ["create-admin", "--name", "Ana", "--email", "ana@example.org", "--password", "a calm blue lake"]
    first = runner.invoke(cli, args, env=env)
    assert first.exit_code == 0, first.output
    second = runner.invoke(cli, [*args[:-2], "--password", "another calm lake"], env=env)
    assert second.exit_code == 1
    invited = runner.invoke(cli, ["invite", "--role", "therapist", "--by", "ana@example.org"], env=env)
    assert invited.exit_code == 0 and "/join?code=" in invited.output
    assert db.scalar("SELECT count(*) FROM invite WHERE role='therapist'") == 1
    keys = runner.invoke(cli, ["vapid"], env=env)
    assert keys.exit_code == 0 and "VAPID public key" in keys.output


def test_secret_calendar_addresses_never_reach_the_logs() -> None:
    from server.web.middleware import loggable_path

    assert loggable_path("/calendar/s3cr3t-token.ics") == "/calendar/[secret]"
    assert loggable_path("/today") == "/today"


def test_a_spanish_speaking_patient_gets_spanish_words(client: TestClient, db: Database) -> None:
    patient = db.make_user(Role.PATIENT, "p@example.org")
    login(client, patient.email)
    post_form(client, "/account/profile", {"name": "Sam", "timezone": "America/New_York", "locale": "es"})
    page = client.get("/today").text
    assert '<html lang="es">' in page
    assert ">Ayuda ahora<" in page and ">Hoy<" in page
    assert "Hola, Sam" in page

"""A family account can never reach the patient's clinical data. Proven by walking the app's FULL route list as a
family member (every GET and POST handler, path parameters filled with the real ids of the patient's rows) and by
reading the family package's imports."""

from __future__ import annotations

import ast
import html
import re
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from litestar.testing import TestClient
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import Role, User
from server.checkins.models import CheckIn, CravingLog, SoberReset, SobrietyDate, TriggerHit, TriggerPreference
from server.consent.service import sign_consent
from server.crisis.models import SafetyPlan
from server.push.models import PushSubscription
from server.schedule.models import Attendance, Enrolment, GroupPattern, Program, ProgramPhase, SessionException
from server.settings import PROJECT_ROOT
from server.skills.catalogue import default_catalogue
from server.skills.models import SkillPractice
from tests.conftest import Database, login, post_form
from tests.support.family import family_of, run_all, today_of

# Distinctive words seeded into the patient's private rows: none may ever reach a family member's screen.
SECRETS = {
    "checkin_note": "ZEBRAQUILT",
    "trigger": "PELICANSTORM",
    "craving_note": "MARMALADEFOG",
    "craving_where": "GRANITEOWL",
    "reset_note": "OBSIDIANKITE",
    "practice_note": "TANGERINEVAULT",
    "safety_plan": "CINNAMONHARBOR",
    "substance": "VELVETCOMET",
}
# What a family account may open: its own pages, sign-in and account pages, the app shell, push set-up and
# public pages. Everything else must answer 403 or 404.
FAMILY_ALLOWED = {
    "/",
    "/login",
    "/logout",
    "/join",
    "/setup",
    "/account",
    "/account/delete",
    "/account/password",
    "/account/profile",
    "/account/devices/sign-out-others",
    "/manifest.webmanifest",
    "/offline",
    "/session/offline",  # who is signed in, as an opaque name, and a CSRF token: nothing of the patient's
    "/sw.js",
    "/family",
    "/family/about",
    "/family/encourage",
    "/crisis",  # crisis lines: public help, no personal data
    "/reminders",
    "/reminders/preferences",
    "/reminders/test",
    "/reminders/devices/{subscription_id:int}/delete",
    "/push/key",
    "/push/subscriptions",
    "/push/subscriptions/status",
    "/push/subscriptions/delete",
    "/push/subscriptions/renew",
    "/skills/catalogue.json",  # the public card catalogue
    "/calendar/{filename:str}",  # secret-token feeds: a wrong token is a 404
    "/static/{file_path:path}",
}
PARAM = re.compile(r"\{(\w+):(\w+)\}")


def _seed(db: Database, sam: User, therapist: User) -> dict[str, Any]:
    """Rows in every clinical table, with the secrets above in their free text. Returns their ids by name."""

    async def work(session: AsyncSession) -> dict[str, Any]:
        today = today_of(sam)
        ids: dict[str, Any] = {}
        session.add(TriggerPreference(user_id=sam.id, custom=[{"id": "custom-pelican", "label": SECRETS["trigger"]}]))  # type: ignore[arg-type]
        checkin = CheckIn(
            user_id=sam.id, local_date=today - timedelta(days=1), mood=3, craving=8, triggers=["custom-pelican"],  # type: ignore[arg-type]
            used=True, substances=SECRETS["substance"], note=SECRETS["checkin_note"], idempotency_key="seed-checkin-1",
        )  # fmt: skip
        session.add(checkin)
        await session.flush()
        session.add(TriggerHit(user_id=sam.id, local_date=checkin.local_date, trigger_id="custom-pelican",  # type: ignore[arg-type]
                               intensity=8, checkin_id=checkin.id))  # fmt: skip
        craving = CravingLog(
            user_id=sam.id, occurred_at=datetime.now(UTC) - timedelta(hours=3), local_date=today, intensity=9,  # type: ignore[arg-type]
            triggers=["custom-pelican"], where_with=SECRETS["craving_where"], action="nothing", outcome="used",
            note=SECRETS["craving_note"], idempotency_key="seed-craving-1", payload_hash="x" * 64,
        )  # fmt: skip
        session.add(craving)
        sober = SobrietyDate(user_id=sam.id, substance="", started_on=today - timedelta(days=30))  # type: ignore[arg-type]
        session.add(sober)
        reset = SoberReset(
            user_id=sam.id, substance="", reset_on=today - timedelta(days=30),  # type: ignore[arg-type]
            previous_started_on=today - timedelta(days=90), previous_days=60, note=SECRETS["reset_note"],
        )  # fmt: skip
        session.add(reset)
        card = default_catalogue().cards[0]
        practice = SkillPractice(user_id=sam.id, card_id=card.id, started_at=datetime.now(UTC),  # type: ignore[arg-type]
                                 note=SECRETS["practice_note"], idempotency_key="seed-practice-1")  # fmt: skip
        session.add(practice)
        session.add(SafetyPlan(user_id=sam.id, warning_signs=[SECRETS["safety_plan"]]))  # type: ignore[arg-type]
        program = Program(clinic_id=sam.clinic_id, name="Evening IOP", family_info="Family night on Thursdays.")
        session.add(program)
        await session.flush()
        phase = ProgramPhase(program_id=program.id, name="Weeks 1–4", start_week=1, end_week=4)  # type: ignore[arg-type]
        session.add(phase)
        await session.flush()
        group = GroupPattern(phase_id=phase.id, title="Relapse prevention", weekday=0, start_time=time(18, 0))  # type: ignore[arg-type]
        session.add(group)
        await session.flush()
        change = SessionException(program_id=program.id, pattern_id=group.id, kind="cancelled",  # type: ignore[arg-type]
                                  original_date=today + timedelta(days=7))  # fmt: skip
        enrolment = Enrolment(patient_id=sam.id, program_id=program.id, start_date=today - timedelta(days=10))  # type: ignore[arg-type]
        session.add_all([change, enrolment])
        session.add(Attendance(patient_id=sam.id, occurrence_id="g1-20260101", starts_at=datetime.now(UTC),  # type: ignore[arg-type]
                               status="missed"))  # fmt: skip
        device = PushSubscription(user_id=sam.id, endpoint="https://fcm.googleapis.com/fcm/send/seed",  # type: ignore[arg-type]
                                  p256dh="p" * 20, auth="a" * 10)  # fmt: skip
        session.add(device)
        me = await session.get(User, sam.id)
        them = await session.get(User, therapist.id)
        consent = await sign_consent(
            session, patient=me, recipient=them, recipient_kind="therapist",  # type: ignore[arg-type]
            categories=["mood_sleep", "cravings_triggers", "substance_use", "notes"], purpose="Treatment",
            data_from=today - timedelta(days=60), ends_at=datetime.now(UTC) + timedelta(days=30), wording="w",
            signature=me.display_name,  # type: ignore[union-attr]
        )  # fmt: skip
        await session.flush()
        ids.update(
            checkin_id=checkin.id, craving_id=craving.id, date_id=sober.id, reset_id=reset.id,
            practice_id=practice.id, program_id=program.id, phase_id=phase.id, group_id=group.id,
            change_id=change.id, enrolment_id=enrolment.id, subscription_id=device.id, consent_id=consent.id,
            patient_id=sam.id, card_id=card.id, trigger_id="custom-pelican",
            filename=f"{today.isocalendar().year}-W{today.isocalendar().week:02d}.csv",
        )  # fmt: skip
        return ids

    return db.run(work)


def _concrete(path: str, ids: dict[str, Any], link_id: int) -> str:
    def fill(match: re.Match[str]) -> str:
        name, kind = match.group(1), match.group(2)
        if name == "link_id":
            return str(link_id)
        if name in ids:
            return str(ids[name])
        return str(ids["patient_id"]) if kind == "int" else "1"

    return PARAM.sub(fill, path)


def _handlers(app: Any) -> list[tuple[str, str]]:
    """(path template, method) for every GET and POST handler the app serves."""
    found = []
    for route in app.routes:
        for method in sorted(getattr(route, "methods", ())):
            if method in ("GET", "POST"):
                found.append((route.path, method))
    return found


def test_a_family_account_reaches_nothing_of_the_patients(client: TestClient, db: Database) -> None:
    therapist = db.make_user(Role.THERAPIST, "t@example.org", name="Dr Tam")
    sam = db.make_user(Role.PATIENT, "sam@example.org", name="Sam", therapist=therapist)
    family_of(db, sam, name="Robin", email="robin@example.org")
    ids = _seed(db, sam, therapist)
    run_all(db)  # 30 days sober: Robin has a real feed item
    link_id = int(db.scalar("SELECT id FROM family_link WHERE patient_id = :p", p=sam.id))

    # The seeded words are really on the patient's own pages, so a leak would show.
    login(client, sam.email)
    assert SECRETS["checkin_note"] in client.get(f"/checkins/{ids['checkin_id']}").text
    assert SECRETS["craving_note"] in client.get(f"/cravings/{ids['craving_id']}").text

    login(client, "robin@example.org")
    handlers = _handlers(client.app)
    assert len(handlers) > 60  # the whole app, not a hand-picked few
    assert {("/family", "GET"), ("/checkin", "POST"), ("/export.csv", "GET")} <= set(handlers)
    checked = 0
    for template, method in handlers:
        path = _concrete(template, ids, link_id)
        allowed = template in FAMILY_ALLOWED
        if allowed and method == "POST":
            continue  # the family member's own account actions (sign out, change password…)
        if method == "GET":
            response = client.get(path, follow_redirects=False)
        else:
            response = post_form(client, path, {"note": "x", "idempotency_key": "family-probe-123"})
        body = html.unescape(response.text) if response.content else ""
        if not allowed:
            assert response.status_code in (403, 404), f"{method} {path} answered {response.status_code}"
        else:
            assert response.status_code < 500, f"{method} {path} answered {response.status_code}"
        for word in SECRETS.values():
            assert word not in body, f"{method} {path} showed {word}"
        checked += 1
    assert checked > 60
    # Still signed in as the family member, and their own feed works.
    feed = client.get("/family")
    assert feed.status_code == 200 and "Sam reached 30 days sober" in html.unescape(feed.text)
    # Nothing a probe did changed the patient's data.
    assert db.scalar("SELECT count(*) FROM checkin WHERE user_id = :u", u=sam.id) == 1
    assert db.scalar("SELECT note FROM craving_log WHERE user_id = :u", u=sam.id) == SECRETS["craving_note"]


FORBIDDEN_IMPORTS = ("server.checkins", "server.skills", "server.sharing")


def _imports(path: Path, package: str) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_the_family_package_imports_nothing_clinical() -> None:
    package_dir = PROJECT_ROOT / "server" / "family"
    files = sorted(package_dir.rglob("*.py"))
    assert len(files) >= 8
    offenders = {
        f"{path.name}: {name}"
        for path in files
        for name in _imports(path, "server.family")
        if name.startswith(FORBIDDEN_IMPORTS) or "import_module" in name
    }
    assert offenders == set()
    # The check has teeth: the detector, which lives outside the package, does read check-ins.
    detector = _imports(PROJECT_ROOT / "server" / "milestones" / "detector.py", "server.milestones")
    assert any(name.startswith("server.checkins") for name in detector)


def test_nothing_clinical_is_even_imported_indirectly_by_the_family_package() -> None:
    """Import every family module in a fresh interpreter and look at what came along with it."""
    import subprocess
    import sys

    script = (
        "import importlib, pkgutil, sys\n"
        "import server.family as family\n"
        "for module in pkgutil.iter_modules(family.__path__):\n"
        "    importlib.import_module('server.family.' + module.name)\n"
        "clinical = ('server.checkins', 'server.skills', 'server.sharing')\n"
        "print(sorted(m for m in sys.modules if m.startswith(clinical)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"

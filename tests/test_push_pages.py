"""The reminders page, the subscription API and the admins' delivery counts, over real HTTP."""

from __future__ import annotations

import re
import time as time_module
from collections.abc import Iterator
from datetime import time, timedelta
from typing import Any

import pytest
from litestar.testing import TestClient

from server.accounts.models import Role
from server.db import utcnow
from server.push.service import KNOWN_PUSH_HOSTS, endpoint_problem
from server.push.vapid import VapidKeys, load_or_create_vapid_keys
from server.settings import Settings
from tests.conftest import Database, csrf_token, htmx_post, login, post_form
from tests.support.push_service import LoopbackPushService, TestSubscription
from tests.support.push_tools import (
    add_device,
    devices,
    drain,
    give_device,
    queue,
    reminders_of,
    set_preferences,
)


@pytest.fixture
def push_service() -> Iterator[LoopbackPushService]:
    service = LoopbackPushService()
    with service.run_in_thread():
        yield service


def subscribe(client: TestClient, sub: TestSubscription, label: str = "Sam's phone", **extra: Any) -> Any:
    body = {"subscription": sub.subscription_info(), "device_label": label, **extra}
    return client.post("/push/subscriptions", json=body, headers={"x-csrftoken": csrf_token(client)})


def test_reminders_page_offers_the_button_without_asking_for_permission(client: TestClient, db: Database) -> None:
    patient = db.make_user(Role.PATIENT)
    login(client, patient.email)
    page = client.get("/reminders")
    assert page.status_code == 200
    html = page.text
    assert "Turn on reminders on this phone" in html
    assert "Add to Home Screen" in html  # the iPhone explanation is there for push.js to reveal
    assert "/static/js/push.js" in html
    assert 'name="checkin_time"' in html and 'value="20:00"' in html
    assert 'name="group_minutes_before"' in html and 'value="60"' in html
    assert 'name="milestone_enabled"' not in html  # that one is for family members
    assert "No devices yet" in html


def test_pages_are_linked_from_more_and_account(client: TestClient, db: Database) -> None:
    patient = db.make_user(Role.PATIENT)
    login(client, patient.email)
    assert 'href="/reminders"' in client.get("/more").text
    assert 'href="/reminders"' in client.get("/account").text


def test_signed_out_people_are_sent_to_sign_in(client: TestClient) -> None:
    response = client.get("/reminders", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    assert client.get("/push/key", follow_redirects=False).status_code in (303, 401)


def test_vapid_public_key_is_served(client: TestClient, db: Database, settings: Settings) -> None:
    login(client, db.make_user(Role.FAMILY).email)
    response = client.get("/push/key")
    assert response.status_code == 200
    assert response.json()["publicKey"] == load_or_create_vapid_keys(settings.data_dir, settings.env).public_key
    assert (settings.data_dir / "vapid_private.pem").exists()  # made on first use, kept in ./data


def test_subscribe_list_and_remove_devices(client: TestClient, db: Database, push_service: LoopbackPushService) -> None:
    patient = db.make_user(Role.PATIENT)
    login(client, patient.email)
    phone, laptop = push_service.new_subscription(), push_service.new_subscription()

    assert subscribe(client, phone, "Phone · Chrome").status_code == 201
    assert subscribe(client, laptop, "Laptop").status_code == 201
    again = subscribe(client, phone, "Phone (renamed)")  # the same browser again: updated, not doubled
    assert again.status_code == 201

    listed = devices(db.url, patient.id)
    assert sorted(d.device_label for d in listed) == ["Laptop", "Phone (renamed)"]
    page = client.get("/reminders").text
    assert "Phone (renamed)" in page and "Laptop" in page
    status = client.post("/push/subscriptions/status", json={"endpoint": phone.endpoint},
                         headers={"x-csrftoken": csrf_token(client)})  # fmt: skip
    assert status.json() == {"known": True}

    laptop_id = next(d.id for d in listed if d.device_label == "Laptop")
    removed = post_form(client, f"/reminders/devices/{laptop_id}/delete")
    assert removed.status_code == 303
    assert removed.headers["location"] == "/reminders?notice=removed"
    assert [d.device_label for d in devices(db.url, patient.id)] == ["Phone (renamed)"]
    assert "get reminders any more" in client.get("/reminders?notice=removed").text

    # This browser turning reminders off.
    off = client.post("/push/subscriptions/delete", json={"endpoint": phone.endpoint},
                      headers={"x-csrftoken": csrf_token(client)})  # fmt: skip
    assert off.json() == {"removed": True}
    assert devices(db.url, patient.id) == []


def test_turning_reminders_on_plans_the_checkin_reminder_at_once(
    client: TestClient, db: Database, push_service: LoopbackPushService
) -> None:
    patient = db.make_user(Role.PATIENT)
    login(client, patient.email)
    assert reminders_of(db.url, patient.id) == []
    assert subscribe(client, push_service.new_subscription()).status_code == 201
    kinds = {r.kind for r in reminders_of(db.url, patient.id)}
    assert kinds == {"checkin"}


def test_someone_elses_device_is_a_404(client: TestClient, db: Database, push_service: LoopbackPushService) -> None:
    owner = db.make_user(Role.PATIENT)
    other = db.make_user(Role.PATIENT)
    device_id = add_device(db.url, owner.id, push_service.new_subscription())
    login(client, other.email)
    assert post_form(client, f"/reminders/devices/{device_id}/delete").status_code == 404
    assert len(devices(db.url, owner.id)) == 1


def test_a_phone_moves_to_whoever_subscribed_it_last(
    client: TestClient, db: Database, push_service: LoopbackPushService
) -> None:
    first, second = db.make_user(Role.PATIENT), db.make_user(Role.PATIENT)
    shared = push_service.new_subscription()
    add_device(db.url, first.id, shared)
    login(client, second.email)
    assert subscribe(client, shared).status_code == 201
    assert devices(db.url, first.id) == []
    assert len(devices(db.url, second.id)) == 1


def test_bad_subscriptions_are_refused(client: TestClient, db: Database, push_service: LoopbackPushService) -> None:
    login(client, db.make_user(Role.PATIENT).email)
    sub = push_service.new_subscription()
    headers = {"x-csrftoken": csrf_token(client)}
    bad_keys = {"endpoint": sub.endpoint, "keys": {"p256dh": "not base64!", "auth": sub.auth}}
    assert client.post("/push/subscriptions", json={"subscription": bad_keys}, headers=headers).status_code == 422
    assert client.post("/push/subscriptions", json={"nope": 1}, headers=headers).status_code == 422
    ftp = {"endpoint": "ftp://127.0.0.1/x", "keys": {"p256dh": sub.p256dh, "auth": sub.auth}}
    assert client.post("/push/subscriptions", json={"subscription": ftp}, headers=headers).status_code == 422
    assert client.post("/push/subscriptions", content=b"{", headers={**headers, "content-type": "application/json"}
                       ).status_code == 422  # fmt: skip
    # Without the CSRF token: refused.
    assert client.post("/push/subscriptions", json={"subscription": sub.subscription_info()}).status_code == 403


def test_over_https_only_real_push_services_are_accepted() -> None:
    hosts = (*KNOWN_PUSH_HOSTS, "push.example.net")
    assert endpoint_problem("https://fcm.googleapis.com/fcm/send/abc", allow_loopback=False, hosts=hosts) is None
    assert endpoint_problem("https://updates.push.services.mozilla.com/wpush/v2/x", allow_loopback=False,
                            hosts=hosts) is None  # fmt: skip
    assert endpoint_problem("https://web.push.apple.com/QGx", allow_loopback=False, hosts=hosts) is None
    assert endpoint_problem("https://push.example.net/x", allow_loopback=False, hosts=hosts) is None
    for bad in ("https://169.254.169.254/latest", "http://fcm.googleapis.com/x", "https://evilpush.apple.com.x.io/",
                "https://user:pw@fcm.googleapis.com/x", "https://apple.com/", "http://127.0.0.1:5432/",
                "http://169.254.169.254/latest/meta-data"):  # fmt: skip
        assert endpoint_problem(bad, allow_loopback=False, hosts=hosts) is not None, bad
    # The test-only switch adds this machine's loopback, and nothing else.
    assert endpoint_problem("http://127.0.0.1:9/push/x", allow_loopback=True, hosts=hosts) is None
    for bad in ("http://169.254.169.254/latest", "http://10.0.0.5/x", "gopher://127.0.0.1/x"):
        assert endpoint_problem(bad, allow_loopback=True, hosts=hosts) is not None, bad


def test_an_http_server_address_no_longer_opens_the_clinic_network(client: TestClient, db: Database) -> None:
    """The default BASE_URL is http: that used to skip the allow-list. A second app without the test switch
    refuses a loopback endpoint and a cloud-metadata one."""
    from server.app import create_app
    from server.settings import Settings

    plain = Settings.from_env({"STEADY_DATA_DIR": str(client.app.state.settings.data_dir),
                               "DATABASE_URL": client.app.state.settings.database_url, "SECRET_KEY": "s" * 40},
                              migrate_on_start=False, run_dispatcher_in_app=False)  # fmt: skip
    assert not plain.https and not plain.push_loopback_for_tests
    patient = db.make_user(Role.PATIENT, "p@example.org")
    with TestClient(create_app(plain)) as other:
        login(other, patient.email)
        headers = {"x-csrftoken": csrf_token(other)}
        for endpoint in ("http://127.0.0.1:5432/", "http://169.254.169.254/latest/meta-data"):
            body = {"subscription": {"endpoint": endpoint, "keys": {"p256dh": "BExample", "auth": "auth-secret"}}}
            assert other.post("/push/subscriptions", json=body, headers=headers).status_code == 422, endpoint
    assert db.scalar("SELECT count(*) FROM push_subscription") == 0


def test_test_notification_is_decrypted_at_the_push_service(
    client: TestClient, db: Database, settings: Settings, push_service: LoopbackPushService
) -> None:
    patient = db.make_user(Role.PATIENT)
    login(client, patient.email)
    public_key = client.get("/push/key").json()["publicKey"]
    sub = push_service.new_subscription(application_server_key=public_key)  # 403 if any other key signs
    assert subscribe(client, sub).status_code == 201

    response = post_form(client, "/reminders/test")
    assert response.status_code == 303
    assert response.headers["location"] == "/reminders?notice=test"
    # The app here runs without its in-app dispatcher; send what is due the way it would.
    report = drain(db.url, load_or_create_vapid_keys(settings.data_dir, settings.env))
    assert report.sent == 1
    [push] = push_service.received(sub.sub_id)
    assert push.data["title"] == "Reminders are working"
    assert push.data["url"] == "/reminders"
    assert push.urgency == "high"
    assert 0 < push.ttl <= 600
    assert devices(db.url, patient.id)[0].last_success_at is not None


def test_test_notification_with_htmx_and_without_devices(client: TestClient, db: Database) -> None:
    login(client, db.make_user(Role.PATIENT).email)
    response = htmx_post(client, "/reminders/test")
    assert response.status_code == 422
    assert "Turn on reminders on this phone first" in response.text
    assert "<html" not in response.text  # just the fragment
    page = post_form(client, "/reminders/test")
    assert page.status_code == 422
    assert "Turn on reminders on this phone first" in page.text and "<html" in page.text


def test_pressing_test_twice_quickly_sends_one(
    client: TestClient, db: Database, push_service: LoopbackPushService
) -> None:
    patient = db.make_user(Role.PATIENT)
    add_device(db.url, patient.id, push_service.new_subscription())
    login(client, patient.email)
    first = htmx_post(client, "/reminders/test")
    assert first.status_code == 200 and "on its way" in first.text
    htmx_post(client, "/reminders/test")
    assert len([r for r in reminders_of(db.url, patient.id) if r.kind == "test"]) in (1, 2)  # at a 10 s boundary: 2


# -- preferences ------------------------------------------------------------------------------------------------


def test_saving_preferences(client: TestClient, db: Database) -> None:
    patient = db.make_user(Role.PATIENT)
    login(client, patient.email)
    response = post_form(client, "/reminders/preferences", {
        "group_enabled": "on", "group_minutes_before": "45", "checkin_time": "19:30",
        "homework_enabled": "on", "quiet_start": "23:00", "quiet_end": "06:30",
    })  # fmt: skip
    assert response.status_code == 303
    assert response.headers["location"] == "/reminders?notice=saved"
    html = client.get("/reminders?notice=saved").text
    assert "Your reminder settings are saved." in html
    assert 'value="45"' in html and 'value="19:30"' in html and 'value="23:00"' in html and 'value="06:30"' in html
    assert 'id="checkin_enabled" name="checkin_enabled" value="on">' in html  # unticked: off
    assert 'id="group_enabled" name="group_enabled" value="on" checked>' in html
    # Turning the check-in off left nothing queued; saving re-planned straight away (groups: none here).
    assert [r for r in reminders_of(db.url, patient.id) if r.kind == "checkin"] == []


def test_saving_reschedules_the_checkin_reminder_at_once(client: TestClient, db: Database) -> None:
    patient = db.make_user(Role.PATIENT, timezone="UTC")
    give_device(db.url, patient.id)
    login(client, patient.email)
    later = (utcnow() + timedelta(hours=2)).time().replace(second=0, microsecond=0)
    post_form(client, "/reminders/preferences", {
        "checkin_enabled": "on", "checkin_time": later.strftime("%H:%M"), "group_minutes_before": "60",
        "quiet_start": "22:00", "quiet_end": "07:00",
    })  # fmt: skip
    times = {r.due_at.time().replace(tzinfo=None) for r in reminders_of(db.url, patient.id) if r.kind == "checkin"}
    assert times == {later}


def test_bad_preferences_are_422_with_inline_errors_and_values_kept(client: TestClient, db: Database) -> None:
    patient = db.make_user(Role.PATIENT)
    login(client, patient.email)
    response = post_form(client, "/reminders/preferences", {
        "group_enabled": "on", "group_minutes_before": "2", "checkin_enabled": "on", "checkin_time": "25:99",
        "quiet_start": "late", "quiet_end": "07:00",
    })  # fmt: skip
    assert response.status_code == 422
    html = response.text
    assert "Please choose 5 or more." in html
    assert html.count("Please enter a time like 20:00.") == 2
    assert 'value="25:99"' in html and 'value="late"' in html and 'value="2"' in html
    assert 'aria-invalid="true"' in html
    assert 'id="checkin_enabled" name="checkin_enabled" value="on" checked>' in html
    # Nothing was stored.
    assert db.scalar("SELECT count(*) FROM reminder_preference") == 0
    assert db.scalar("SELECT count(*) FROM reminder_setting") == 0


def test_each_role_sees_and_sets_its_own_reminders(client: TestClient, db: Database) -> None:
    patient = db.make_user(Role.PATIENT)
    family = db.make_user(Role.FAMILY, patient=patient)
    login(client, family.email)
    html = client.get("/reminders").text
    assert 'name="milestone_enabled"' in html
    assert 'name="group_enabled"' not in html and 'name="checkin_time"' not in html
    # A family member can't switch a patient's settings on by posting them.
    post_form(
        client, "/reminders/preferences", {"quiet_start": "21:00", "quiet_end": "08:00", "group_minutes_before": "9"}
    )
    setting = "SELECT {} FROM reminder_setting WHERE user_id = :u AND kind = :k"
    assert db.scalar(setting.format("enabled"), u=family.id, k="milestone") in (False, 0)
    assert db.scalar(setting.format("count(*)"), u=family.id, k="group") == 0  # never the patient's kinds
    assert db.scalar("SELECT quiet_start FROM reminder_preference WHERE user_id = :u", u=family.id) is not None

    therapist = db.make_user(Role.THERAPIST)
    client.cookies.clear()
    login(client, therapist.email)
    html = client.get("/reminders").text
    assert 'name="quiet_start"' in html and 'name="milestone_enabled"' not in html


# -- the admins' delivery counts --------------------------------------------------------------------------------


def test_admin_sees_counts_without_names_or_text(
    db: Database, client: TestClient, push_service: LoopbackPushService
) -> None:
    admin = db.make_user(Role.ADMIN)
    patient = db.make_user(Role.PATIENT, name="Jordan Example")
    ok, gone = push_service.new_subscription(), push_service.new_subscription()
    add_device(db.url, patient.id, ok)
    add_device(db.url, patient.id, gone)
    push_service.unsubscribe(gone.sub_id)
    set_preferences(db.url, patient.id, quiet_start=time(0, 0), quiet_end=time(0, 0))
    queue(db.url, user_id=patient.id, kind="checkin", dedupe_key="c1", title="Unique-title-xyz")
    queue(db.url, user_id=patient.id, kind="homework", dedupe_key="h1", title="Homework-title-xyz")
    # Another clinic's deliveries are not this admin's business.
    db.make_clinic(clinic_id=2, name="Elsewhere")
    stranger = db.make_user(Role.PATIENT, clinic_id=2)
    add_device(db.url, stranger.id, push_service.new_subscription())
    queue(db.url, user_id=stranger.id, kind="checkin", dedupe_key="c2", title="Elsewhere")
    assert drain(db.url, VapidKeys.generate()).deliveries == 3

    login(client, admin.email)
    html = client.get("/admin/deliveries").text
    assert "Jordan" not in html and "xyz" not in html and "Elsewhere" not in html
    cells = lambda label: re.search(rf'<th scope="row">{label}</th>((?:<td>\d+</td>)+)', html).group(1)  # noqa: E731
    # Columns: delivered, will retry, failed, device gone, not sent, all.
    assert cells("Daily check-in") == "<td>1</td><td>0</td><td>0</td><td>1</td><td>0</td><td>2</td>"
    assert cells("All kinds") == "<td>2</td><td>0</td><td>0</td><td>2</td><td>0</td><td>4</td>"


def test_deliveries_page_is_for_admins_only(client: TestClient, db: Database) -> None:
    login(client, db.make_user(Role.THERAPIST).email)
    assert client.get("/admin/deliveries").status_code == 403


# -- the dispatcher inside the app, and as its own process ------------------------------------------------------


def test_in_app_dispatcher_sends_the_test_notification_right_away(
    app_factory: Any, db: Database, push_service: LoopbackPushService
) -> None:
    patient = db.make_user(Role.PATIENT)
    sub = push_service.new_subscription()
    add_device(db.url, patient.id, sub)
    with TestClient(app=app_factory(run_dispatcher_in_app=True), base_url="http://127.0.0.1:8000") as client:
        login(client, patient.email)
        assert post_form(client, "/reminders/test").status_code == 303
        [push] = push_service.wait_for_received(1, sub_id=sub.sub_id, timeout=10)
        assert push.data["title"] == "Reminders are working"
    # The app shut its dispatcher down cleanly with it.
    assert db.scalar("SELECT status FROM reminder WHERE kind = 'test'") == "sent"


def test_steady_dispatch_once(
    database_url: str, tmp_path: Any, db: Database, push_service: LoopbackPushService
) -> None:
    from click.testing import CliRunner

    from server.cli import main as cli

    patient = db.make_user(Role.PATIENT)
    set_preferences(db.url, patient.id, checkin_enabled=False, quiet_start=time(0, 0), quiet_end=time(0, 0))
    sub = push_service.new_subscription()
    add_device(db.url, patient.id, sub)
    queue(db.url, user_id=patient.id, kind="nudge", dedupe_key="n1", title="Something to look at in Steady")
    env = {"DATABASE_URL": database_url, "STEADY_DATA_DIR": str(tmp_path), "SECRET_KEY": "k" * 40}

    result = CliRunner().invoke(cli, ["dispatch", "--once"], env=env)

    assert result.exit_code == 0, result.output
    assert "Claimed 1: 1 sent" in result.output
    assert [p.data["title"] for p in push_service.received(sub.sub_id)] == ["Something to look at in Steady"]


def test_a_slow_push_service_never_holds_up_pages(
    app_factory: Any, db: Database, push_service: LoopbackPushService
) -> None:
    patient = db.make_user(Role.PATIENT)
    for n in range(5):
        add_device(db.url, patient.id, push_service.new_subscription(), f"Phone {n}")
    for n in range(20):
        queue(db.url, user_id=patient.id, kind="test", dedupe_key=f"slow:{n}", title="Reminders are working")
    push_service.set_delay(3.0)  # every push takes 3 s to answer
    with TestClient(app=app_factory(run_dispatcher_in_app=True), base_url="http://127.0.0.1:8000") as client:
        login(client, patient.email)
        deadline = time_module.monotonic() + 10
        while push_service.attempts == 0 and time_module.monotonic() < deadline:
            time_module.sleep(0.02)
        assert push_service.attempts > 0  # the dispatcher is now waiting on the slow service
        for _ in range(5):
            started = time_module.monotonic()
            assert client.get("/reminders").status_code == 200
            assert time_module.monotonic() - started < 1.0
        push_service.set_delay(0)


def test_service_worker_renews_a_replaced_subscription(
    client: TestClient, db: Database, push_service: LoopbackPushService
) -> None:
    patient, other = db.make_user(Role.PATIENT), db.make_user(Role.PATIENT)
    old, new = push_service.new_subscription(), push_service.new_subscription()
    add_device(db.url, patient.id, old, "Phone")
    login(client, other.email)
    body = {"old_endpoint": old.endpoint, "old_auth": old.auth, "subscription": new.subscription_info()}
    # Only the device's own person can renew it (and without a CSRF token: a service worker has none).
    assert client.post("/push/subscriptions/renew", json=body).status_code == 404
    client.cookies.clear()
    assert client.post("/push/subscriptions/renew", json=body, follow_redirects=False).status_code in (303, 401)
    login(client, patient.email)
    # Knowing the endpoint is not enough: the old auth secret proves the browser holds the device.
    for wrong in ({**body, "old_auth": "not-the-secret"}, {k: v for k, v in body.items() if k != "old_auth"}):
        assert client.post("/push/subscriptions/renew", json=wrong).status_code in (404, 422)
    assert devices(db.url, patient.id)[0].endpoint == old.endpoint
    assert client.post("/push/subscriptions/renew", json=body).json() == {"renewed": True}
    [device] = devices(db.url, patient.id)
    assert (device.device_label, device.endpoint, device.p256dh) == ("Phone", new.endpoint, new.p256dh)


def test_renewing_can_never_remove_someone_elses_device(
    client: TestClient, db: Database, push_service: LoopbackPushService
) -> None:
    """The old route deleted any row with the new endpoint: naming a victim's endpoint as "new" removed it."""
    attacker, victim = db.make_user(Role.PATIENT), db.make_user(Role.PATIENT)
    mine, theirs = push_service.new_subscription(), push_service.new_subscription()
    add_device(db.url, attacker.id, mine, "Mine")
    add_device(db.url, victim.id, theirs, "Theirs")
    login(client, attacker.email)
    body = {"old_endpoint": mine.endpoint, "old_auth": mine.auth, "subscription": theirs.subscription_info()}
    assert client.post("/push/subscriptions/renew", json=body).status_code == 404
    assert [d.endpoint for d in devices(db.url, victim.id)] == [theirs.endpoint]
    assert [d.endpoint for d in devices(db.url, attacker.id)] == [mine.endpoint]

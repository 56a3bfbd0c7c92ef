"""The daily check-in and the craving log over real HTTP: saving, editing, late days, bad input, ownership,
the DBT diary card, triggers, htmx fragments, offline-page headers and the Today panel."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

from litestar.testing import TestClient

from server import localtime as dates
from server.checkins.models import CheckIn
from tests.conftest import Database, htmx_post, login, post_form
from tests.support.checkins import (
    add_checkin,
    add_craving,
    checkin_data,
    count,
    craving_data,
    field_error,
    get_row,
    signed_in_patient,
    today_for,
)

# --------------------------------------------------------------------------- the form


def test_checkin_page_offers_the_form_and_may_be_kept_offline(client: TestClient, db: Database) -> None:
    signed_in_patient(client, db)
    response = client.get("/checkin")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "data-offline-queue" in page
    assert 'name="idempotency_key" value="' in page and 'name="client_created_at" value=""' in page
    for n in range(11):
        assert f'name="mood" value="{n}"' in page
        assert f'name="craving" value="{n}"' in page
    for trigger in ("hungry", "angry", "lonely", "tired", "stress", "social-media"):
        assert f'value="{trigger}"' in page
    assert response.headers["X-Steady-Offline"] == "page"
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert "Diary card" not in page  # off until the patient switches it on


def test_each_form_gets_a_fresh_key(client: TestClient, db: Database) -> None:
    signed_in_patient(client, db)
    first = client.get("/checkin").text.split('name="idempotency_key" value="')[1][:36]
    second = client.get("/checkin").text.split('name="idempotency_key" value="')[1][:36]
    assert first != second and len(first) == 36


def test_late_form_for_an_earlier_day_is_not_kept_offline(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    day = today_for(user) - timedelta(days=2)
    response = client.get(f"/checkin?date={day.isoformat()}")
    assert response.status_code == 200
    assert f'name="date" value="{day.isoformat()}"' in response.text
    assert "X-Steady-Offline" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"


def test_checkin_form_with_a_bad_date_in_the_address(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    bad = client.get("/checkin?date=2026-02-31")
    assert bad.status_code == 422
    assert field_error(bad.text, "date") == "Please enter a date like 2026-11-23."
    future = client.get(f"/checkin?date={(today_for(user) + timedelta(days=1)).isoformat()}")
    assert future.status_code == 422
    assert "hasn&#39;t come yet" in field_error(future.text, "date")  # type: ignore[operator]


# --------------------------------------------------------------------------- saving


def test_save_todays_checkin_with_everything(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    made = datetime.now(UTC) - timedelta(minutes=3)
    data = checkin_data(
        mood="4", craving="8", triggers=["lonely", "tired"], used="yes", substances="alcohol", amount="3 beers",
        sleep_hours="6.5", medication="yes", note="Rough evening.\nCalled my sister.",
        client_created_at=made.isoformat().replace("+00:00", "Z"),
    )  # fmt: skip
    response = post_form(client, "/checkin", data)
    assert response.status_code == 303
    checkin_id = db.scalar("SELECT id FROM checkin WHERE user_id = :u", u=user.id)
    assert response.headers["location"] == f"/checkins/{checkin_id}?saved=1"
    row = get_row(db, CheckIn, checkin_id)
    assert (row.mood, row.craving, row.used, row.substances, row.amount) == (4, 8, True, "alcohol", "3 beers")
    assert row.triggers == ["lonely", "tired"] and row.sleep_hours == 6.5 and row.medication == "yes"
    assert row.note == "Rough evening.\nCalled my sister."
    assert row.local_date == today_for(user) and not row.late and not row.diary
    # The phone's time is kept, not the arrival time.
    assert abs((row.client_created_at - made).total_seconds()) < 0.01
    assert count(db, "trigger_hit", user) == 2

    page = client.get(response.headers["location"])
    assert page.status_code == 200
    assert "Thank you for checking in" in page.text
    assert "Thank you for being honest" in page.text  # non-judging words after a use
    assert "/skills/urge-surfing" in page.text  # strong craving: skills one tap away


def test_editing_todays_checkin_updates_the_same_row(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    assert post_form(client, "/checkin", checkin_data(mood="3", triggers=["stress"])).status_code == 303
    form = client.get("/checkin").text
    assert 'name="mood" value="3" checked' in form  # today's answers are filled in for editing
    assert post_form(client, "/checkin", checkin_data(mood="7", triggers=["boredom", "money"])).status_code == 303
    assert count(db, "checkin", user) == 1
    assert db.scalar("SELECT mood FROM checkin WHERE user_id = :u", u=user.id) == 7
    hits = db.scalar("SELECT count(*) FROM trigger_hit WHERE user_id = :u AND trigger_id = 'stress'", u=user.id)
    assert hits == 0 and count(db, "trigger_hit", user) == 2
    assert count(db, "checkin_submission", user) == 2


def test_used_no_clears_substance_words(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    post_form(client, "/checkin", checkin_data(used="no", substances="should not be kept"))
    assert db.scalar("SELECT substances FROM checkin WHERE user_id = :u", u=user.id) == ""


def test_late_checkin_for_an_earlier_day_is_marked_late(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    day = today_for(user) - timedelta(days=3)
    response = post_form(client, "/checkin", checkin_data(date=day.isoformat()))
    assert response.status_code == 303
    assert db.scalar("SELECT late FROM checkin WHERE user_id = :u", u=user.id) in (True, 1)
    # It can still be changed the same day it was filled in...
    assert post_form(client, "/checkin", checkin_data(date=day.isoformat(), mood="2")).status_code == 303
    assert db.scalar("SELECT mood FROM checkin WHERE user_id = :u", u=user.id) == 2


def test_an_earlier_days_checkin_is_not_editable_later(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    day = today_for(user) - timedelta(days=1)
    checkin_id = add_checkin(db, user, day, mood=5)
    # The form for that day shows the saved check-in instead.
    shown = client.get(f"/checkin?date={day.isoformat()}", follow_redirects=False)
    assert shown.status_code == 303 and shown.headers["location"] == f"/checkins/{checkin_id}"
    response = post_form(client, "/checkin", checkin_data(date=day.isoformat(), mood="9"))
    assert response.status_code == 422
    assert "only on the day itself" in html.unescape(field_error(response.text, "date") or "")
    assert db.scalar("SELECT mood FROM checkin WHERE id = :i", i=checkin_id) == 5


def test_an_offline_edit_made_yesterday_evening_and_sent_today_still_counts(client: TestClient, db: Database) -> None:
    """The rule 'editable on its own day' follows the phone's time of the edit, not its arrival."""
    user = signed_in_patient(client, db)
    yesterday = today_for(user) - timedelta(days=1)
    checkin_id = add_checkin(db, user, yesterday, mood=5)
    made = dates.start_of_local_day(user, yesterday) + timedelta(hours=23, minutes=30)
    response = post_form(client, "/checkin", checkin_data(mood="8", client_created_at=made.isoformat()))
    assert response.status_code == 303
    assert db.scalar("SELECT mood FROM checkin WHERE id = :i", i=checkin_id) == 8
    assert count(db, "checkin", user) == 1


def test_a_phone_clock_running_ahead_does_not_create_tomorrow(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    ahead = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    assert post_form(client, "/checkin", checkin_data(client_created_at=ahead)).status_code == 303
    assert db.scalar("SELECT local_date FROM checkin WHERE user_id = :u", u=user.id) in (
        today_for(user),
        today_for(user).isoformat(),
    )


def test_htmx_checkin_returns_the_saved_fragment(client: TestClient, db: Database) -> None:
    signed_in_patient(client, db)
    response = htmx_post(client, "/checkin", checkin_data())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.text.lstrip().startswith('<div id="checkin-area">')
    assert "<html" not in response.text
    assert "Saved. Thank you for checking in." in response.text


# --------------------------------------------------------------------------- crisis help after a worrying check-in


def test_low_mood_shows_crisis_help_right_after_saving(client: TestClient, db: Database) -> None:
    signed_in_patient(client, db)
    response = htmx_post(client, "/checkin", checkin_data(mood="1"))
    assert response.status_code == 200
    assert 'id="help-now-h"' in response.text
    assert "/crisis" in response.text


def test_self_harm_urge_shows_crisis_help(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    post_form(client, "/checkin/settings", {"diary_card": "yes"})
    data = checkin_data(mood="6", diary_section="1", urge_self_harm="4", emo_sadness="3", skills_used="5")
    response = htmx_post(client, "/checkin", data)
    assert 'id="help-now-h"' in response.text
    assert db.scalar("SELECT urge_self_harm FROM checkin WHERE user_id = :u", u=user.id) == 4


def test_an_ordinary_checkin_shows_no_crisis_help(client: TestClient, db: Database) -> None:
    signed_in_patient(client, db)
    response = htmx_post(client, "/checkin", checkin_data(mood="2"))
    assert 'id="help-now-h"' not in response.text


# --------------------------------------------------------------------------- DBT diary card


def test_diary_card_can_be_switched_on_and_saved(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    assert post_form(client, "/checkin/settings", {"diary_card": "yes"}).status_code == 303
    page = client.get("/checkin").text
    assert "Diary card" in page and 'name="skills_used" value="7"' in page
    assert "Didn&#39;t try, used them anyway, and they helped" in page
    data = checkin_data(diary_section="1", emo_sadness="2", emo_anger="0", emo_fear="1", emo_shame="3",
                        emo_joy="4", urge_use="3", acted_use="yes", urge_self_harm="0", urge_quit_treatment="1",
                        skills_used="5")  # fmt: skip
    assert post_form(client, "/checkin", data).status_code == 303
    checkin_id = db.scalar("SELECT id FROM checkin WHERE user_id = :u", u=user.id)
    row = get_row(db, CheckIn, checkin_id)
    assert row.diary and row.emo_shame == 3 and row.urge_use == 3 and row.acted_use is True
    assert row.acted_self_harm is False and row.skills_used == 5 and row.emo_anger == 0


def test_diary_values_out_of_range(client: TestClient, db: Database) -> None:
    signed_in_patient(client, db)
    post_form(client, "/checkin/settings", {"diary_card": "yes"})
    response = post_form(client, "/checkin", checkin_data(diary_section="1", emo_joy="6", skills_used="8"))
    assert response.status_code == 422
    assert field_error(response.text, "emo_joy") == "Please choose 5 or less."
    assert field_error(response.text, "skills_used") == "Please choose 7 or less."


def test_an_edit_without_the_diary_part_keeps_the_diary(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    post_form(client, "/checkin", checkin_data(diary_section="1", emo_joy="4"))
    post_form(client, "/checkin", checkin_data(mood="8"))
    assert db.scalar("SELECT emo_joy FROM checkin WHERE user_id = :u", u=user.id) == 4


# --------------------------------------------------------------------------- bad input


def test_bad_checkin_input_gives_422_inline_messages_and_keeps_values(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    data = checkin_data(
        mood="11", craving="-1", sleep_hours="25", note="x" * 5001, medication="maybe",
        triggers=["hungry"], substances="", amount="two",
    )  # fmt: skip
    del data["used"]
    response = post_form(client, "/checkin", data)
    assert response.status_code == 422
    page = response.text
    assert field_error(page, "mood") == "Please choose 10 or less."
    assert field_error(page, "craving") == "Please choose 0 or more."
    assert field_error(page, "sleep_hours") == "Please enter 24 hours or less."
    assert field_error(page, "note") == "Please keep this to 5000 characters or fewer."
    assert field_error(page, "medication") == "Please pick one of the choices."
    assert "no wrong answer" in html.unescape(field_error(page, "used") or "")
    assert 'aria-invalid="true"' in page
    # What was typed is still there.
    assert 'value="hungry" checked' in page
    assert 'value="two"' in page
    assert "x" * 5001 in page
    assert count(db, "checkin", user) == 0


def test_future_and_malformed_dates_are_refused(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    tomorrow = (today_for(user) + timedelta(days=1)).isoformat()
    response = post_form(client, "/checkin", checkin_data(date=tomorrow, mood="4"))
    assert response.status_code == 422
    assert "hasn't come yet" in html.unescape(field_error(response.text, "date") or "")
    assert f'value="{tomorrow}"' in response.text and 'name="mood" value="4" checked' in response.text
    for bad in ("2026-13-01", "yesterday", "2026-02-30"):
        response = post_form(client, "/checkin", checkin_data(date=bad))
        assert response.status_code == 422
        assert field_error(response.text, "date") == "Please enter a date like 2026-11-23."
        assert f'value="{bad}"' in response.text
    too_old = (today_for(user) - timedelta(days=400)).isoformat()
    response = post_form(client, "/checkin", checkin_data(date=too_old))
    assert response.status_code == 422
    assert field_error(response.text, "date") == "You can fill in days from the past year."
    assert count(db, "checkin", user) == 0


def test_unknown_trigger_is_refused(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    response = post_form(client, "/checkin", checkin_data(triggers=["hungry", "not-a-trigger"]))
    assert response.status_code == 422
    assert "isn&#39;t in your list" in (field_error(response.text, "triggers") or "")
    assert count(db, "checkin", user) == 0 and count(db, "trigger_hit", user) == 0


def test_use_needs_a_word_about_what(client: TestClient, db: Database) -> None:
    signed_in_patient(client, db)
    response = post_form(client, "/checkin", checkin_data(used="yes"))
    assert response.status_code == 422
    assert "One word is enough" in html.unescape(field_error(response.text, "substances") or "")


def test_htmx_bad_input_returns_the_form_fragment_with_422(client: TestClient, db: Database) -> None:
    signed_in_patient(client, db)
    response = htmx_post(client, "/checkin", checkin_data(mood="12"))
    assert response.status_code == 422
    assert response.text.lstrip().startswith('<div id="checkin-area">') and "<html" not in response.text
    assert field_error(response.text, "mood") == "Please choose 10 or less."


# --------------------------------------------------------------------------- ownership


def test_a_patient_cannot_see_anothers_checkin_or_craving(client: TestClient, db: Database) -> None:
    other = db.make_user("patient", "other@example.org")
    their_checkin = add_checkin(db, other, today_for(other), mood=2, note="private")
    their_craving = add_craving(db, other, datetime.now(UTC), note="private too")
    signed_in_patient(client, db)
    assert client.get(f"/checkins/{their_checkin}").status_code == 404
    assert client.get(f"/cravings/{their_craving}").status_code == 404
    assert post_form(client, f"/cravings/{their_craving}", {"outcome": "used"}).status_code == 404
    assert db.scalar("SELECT outcome FROM craving_log WHERE id = :i", i=their_craving) == ""
    assert "private" not in client.get(f"/log?saved={their_craving}").text
    # Saving today's check-in never touches the other patient's row for the same day.
    post_form(client, "/checkin", checkin_data(mood="9"))
    assert db.scalar("SELECT mood FROM checkin WHERE id = :i", i=their_checkin) == 2


def test_staff_and_strangers_cannot_use_patient_pages(client: TestClient, db: Database) -> None:
    assert client.get("/checkin", follow_redirects=False).status_code in (302, 303)
    db.make_user("therapist", "t@example.org")
    login(client, "t@example.org")
    for url in ("/checkin", "/log", "/progress", "/sober", "/export.csv"):
        assert client.get(url).status_code == 403


# --------------------------------------------------------------------------- craving log


def test_craving_log_page_and_quick_skills(client: TestClient, db: Database) -> None:
    signed_in_patient(client, db)
    response = client.get("/log")
    assert response.status_code == 200
    assert response.headers["X-Steady-Offline"] == "page"
    assert 'href="/skills/urge-surfing"' in response.text and 'href="/skills/tipp"' in response.text
    assert 'action="/cravings"' in response.text and "data-offline-queue" in response.text
    assert 'href="/checkin"' in response.text


def test_log_a_craving(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    made = datetime.now(UTC) - timedelta(minutes=20)
    data = craving_data(intensity="8", triggers=["stress", "people"], where_with="work, with my boss",
                        outcome="passed", intensity_after="3", note="Went outside.",
                        client_created_at=made.isoformat())  # fmt: skip
    response = post_form(client, "/cravings", data)
    assert response.status_code == 303
    craving_id = db.scalar("SELECT id FROM craving_log WHERE user_id = :u", u=user.id)
    assert response.headers["location"] == f"/log?saved={craving_id}"
    occurred = db.scalar("SELECT occurred_at FROM craving_log WHERE id = :i", i=craving_id)
    assert str(occurred).startswith(made.strftime("%Y-%m-%d %H:%M")) or str(occurred).startswith(
        made.strftime("%Y-%m-%dT%H:%M")
    )
    assert count(db, "trigger_hit", user) == 2
    page = client.get(response.headers["location"]).text
    assert "You rode it out" in page and "/skills/tipp" in page


def test_craving_with_a_typed_local_time(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db, tz="Pacific/Auckland")
    local = dates.local_datetime(user, datetime.now(UTC) - timedelta(hours=2)).replace(second=0, microsecond=0)
    typed = local.strftime("%Y-%m-%dT%H:%M")
    assert post_form(client, "/cravings", craving_data(occurred_at=typed)).status_code == 303
    stored = db.scalar("SELECT local_date FROM craving_log WHERE user_id = :u", u=user.id)
    assert str(stored) == local.date().isoformat()


def test_htmx_craving_returns_message_and_fresh_list(client: TestClient, db: Database) -> None:
    signed_in_patient(client, db)
    response = htmx_post(client, "/cravings", craving_data(outcome="used"))
    assert response.status_code == 200
    assert "that takes courage" in response.text
    assert 'id="craving-list"' in response.text and 'hx-swap-oob="true"' in response.text


def test_bad_craving_input(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    future = (datetime.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    data = craving_data(intensity="15", action="dance", outcome="maybe", intensity_after="x", where_with="park",
                        occurred_at="not a time", triggers=["made-up"])  # fmt: skip
    response = post_form(client, "/cravings", data)
    assert response.status_code == 422
    assert field_error(response.text, "intensity") == "Please choose 10 or less."
    assert field_error(response.text, "action") == "Please pick one of the choices."
    assert field_error(response.text, "intensity_after") == "Please enter a whole number."
    assert field_error(response.text, "occurred_at") is not None
    assert 'value="park"' in response.text
    response = post_form(client, "/cravings", craving_data(occurred_at=future))
    assert response.status_code == 422 and "hasn&#39;t come yet" in (field_error(response.text, "occurred_at") or "")
    response = post_form(client, "/cravings", craving_data(triggers=["made-up"]))
    assert response.status_code == 422 and field_error(response.text, "triggers")
    response = post_form(client, "/cravings", craving_data(skill_card_id="no-such-card"))
    assert response.status_code == 422 and field_error(response.text, "skill_card_id")
    response = htmx_post(client, "/cravings", craving_data(intensity="11"))
    assert response.status_code == 422 and response.headers["HX-Retarget"] == "#craving-area"
    assert count(db, "craving_log", user) == 0


def test_add_outcome_to_a_craving_later(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    post_form(client, "/cravings", craving_data(outcome=""))
    craving_id = db.scalar("SELECT id FROM craving_log WHERE user_id = :u", u=user.id)
    assert db.scalar("SELECT outcome FROM craving_log WHERE id = :i", i=craving_id) == ""
    assert client.get(f"/cravings/{craving_id}").status_code == 200
    response = post_form(client, f"/cravings/{craving_id}", {"outcome": "passed", "intensity_after": "2"})
    assert response.status_code == 303
    assert db.scalar("SELECT intensity_after FROM craving_log WHERE id = :i", i=craving_id) == 2
    bad = post_form(client, f"/cravings/{craving_id}", {"outcome": "passed", "intensity_after": "99"})
    assert bad.status_code == 422 and field_error(bad.text, "intensity_after") == "Please choose 10 or less."


# --------------------------------------------------------------------------- triggers


def test_own_triggers_can_be_added_hidden_and_used(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    assert post_form(client, "/checkin/triggers", {"label": "  Payday  "}).status_code == 303
    assert post_form(client, "/checkin/triggers/social-media/hide").status_code == 303
    page = client.get("/checkin").text
    assert 'value="custom-payday"' in page and ">Payday<" in page
    assert 'value="social-media"' not in page
    assert post_form(client, "/checkin", checkin_data(triggers=["custom-payday"])).status_code == 303
    assert client.get("/progress?range=7").text.count("Payday") >= 1
    # A hidden trigger still counts for an entry made from a form kept on the phone before it was hidden.
    assert post_form(client, "/cravings", craving_data(triggers=["social-media"])).status_code == 303
    # Removing an own trigger keeps its name for old entries.
    assert post_form(client, "/checkin/triggers/custom-payday/hide").status_code == 303
    assert "Payday" in client.get("/progress?range=7").text
    assert post_form(client, "/checkin/triggers/no-such/hide").status_code == 404
    long = post_form(client, "/checkin/triggers", {"label": "x" * 41})
    assert long.status_code == 422 and field_error(long.text, "label") == "Please keep this to 40 characters or fewer."
    assert count(db, "checkin", user) == 1


# --------------------------------------------------------------------------- Today panel


def test_today_panel_before_and_after_checking_in(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    page = client.get("/today").text
    assert "Daily check-in" in page and "Check in now" in page
    assert "Count your sober days" in page
    add_checkin(db, user, today_for(user) - timedelta(days=1))
    post_form(client, "/sober", {"started_on": (today_for(user) - timedelta(days=12)).isoformat()})
    post_form(client, "/checkin", checkin_data(mood="7", craving="2"))
    page = html.unescape(client.get("/today").text)
    assert "You've checked in today. Mood 7, craving 2." in page
    assert '<span class="stat">12</span> days sober' in page
    assert "Check-in streak: 2 days" in page


def test_more_page_links_and_offline_pages(client: TestClient, db: Database) -> None:
    signed_in_patient(client, db)
    page = client.get("/more").text
    assert 'href="/sober"' in page and 'href="/export"' in page
    pages = page.split('data-pages="')[1].split('"')[0].split()
    assert "/checkin" in pages and "/log" in pages


def test_dates_at_the_ends_of_the_calendar_never_crash(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db, tz="Pacific/Auckland")
    # A phone clock set to the far future or past is ignored (the server's clock is used instead).
    for made in ("9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "2026-02-30T10:00"):
        response = post_form(client, "/checkin", checkin_data(client_created_at=made))
        assert response.status_code == 303, made
    for typed in ("0001-01-01T00:00", "9999-12-31T23:59", "0001-01-01"):
        response = post_form(client, "/cravings", craving_data(occurred_at=typed))
        assert response.status_code == 422, typed
        assert field_error(response.text, "occurred_at")
    for month in ("0001-01", "9999-12", "2026-00"):
        assert client.get(f"/progress?month={month}").status_code == 200
    assert client.get("/sober/reset?on=0001-01-01").status_code == 200
    assert post_form(client, "/sober", {"started_on": "0001-01-01"}).status_code == 422
    assert post_form(client, "/sober/reset", {"reset_on": "9999-12-31", "substance": [""]}).status_code == 422
    assert count(db, "craving_log", user) == 0 and count(db, "checkin", user) == 1

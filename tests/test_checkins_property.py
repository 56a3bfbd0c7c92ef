"""Arbitrary form data thrown at the check-in and craving endpoints: never a 500, never a partial record."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.checkins.models import CheckIn, TriggerHit
from tests.conftest import Database, htmx_post, post_form
from tests.support.checkins import signed_in_patient

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
NUMBERISH = st.one_of(
    st.integers(-5, 15).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", " 5", "5.0", "1e3", "0x5", "٣", "NaN", "99999999999999999999999"]),
    TEXT,
)
DATEISH = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    st.sampled_from(["2026-02-30", "2026-13-01", "yesterday", "", "0000-00-00", "2026-11-23T10:00", "0001-01-01",
                     "9999-12-31T23:59:59-12:00", "0001-01-01T00:00+14:00", "9999-12-31"]),
    TEXT,
)
TRIGGERS = st.lists(st.one_of(st.sampled_from(["hungry", "lonely", "stress", "custom-x"]), TEXT), max_size=5)
KEYS = st.one_of(st.uuids().map(str), st.sampled_from(["", "short", "x" * 65, "ok-key-1234"]), TEXT)


def _form(fields: dict[str, Any]) -> dict[str, Any]:
    # Optional fields: drop the ones hypothesis set to None, keep everything else as sent.
    return {k: v for k, v in fields.items() if v is not None}


CHECKIN = st.fixed_dictionaries(
    {},
    optional={
        "mood": NUMBERISH, "craving": NUMBERISH, "used": st.sampled_from(["yes", "no", "", "maybe"]) | TEXT,
        "triggers": TRIGGERS, "substances": TEXT, "amount": st.text(max_size=300), "sleep_hours": NUMBERISH,
        "medication": st.sampled_from(["yes", "no", "na", "x"]), "note": st.text(max_size=5100),
        "date": DATEISH, "idempotency_key": KEYS, "client_created_at": DATEISH, "diary_section": st.just("1"),
        "emo_joy": NUMBERISH, "urge_self_harm": NUMBERISH, "acted_use": TEXT, "skills_used": NUMBERISH,
        "unexpected": TEXT,
    },
)  # fmt: skip
CRAVING = st.fixed_dictionaries(
    {},
    optional={
        "intensity": NUMBERISH, "action": st.sampled_from(["skill", "called", "left", "nothing", "run"]) | TEXT,
        "skill_card_id": st.sampled_from(["tipp", "urge-surfing", "nope", ""]) | TEXT, "triggers": TRIGGERS,
        "outcome": st.sampled_from(["passed", "used", "", "?"]), "intensity_after": NUMBERISH,
        "where_with": st.text(max_size=250), "note": st.text(max_size=2100), "occurred_at": DATEISH,
        "idempotency_key": KEYS, "client_created_at": DATEISH,
    },
)  # fmt: skip

# Half the examples start from a valid submission and change a few fields, so saves happen too.
VALID_CHECKIN = st.fixed_dictionaries(
    {"mood": st.integers(0, 10).map(str), "craving": st.integers(0, 10).map(str),
     "used": st.sampled_from(["yes", "no"]), "substances": st.sampled_from(["alcohol", ""]),
     "idempotency_key": st.uuids().map(str)}
)  # fmt: skip
VALID_CRAVING = st.fixed_dictionaries(
    {"intensity": st.integers(0, 10).map(str), "action": st.sampled_from(["skill", "called", "left", "nothing"]),
     "idempotency_key": st.uuids().map(str)}
)  # fmt: skip
CHECKINS = st.one_of(CHECKIN, st.tuples(VALID_CHECKIN, CHECKIN).map(lambda t: {**t[0], **t[1]}),
                     VALID_CHECKIN)  # fmt: skip
CRAVINGS = st.one_of(CRAVING, st.tuples(VALID_CRAVING, CRAVING).map(lambda t: {**t[0], **t[1]}),
                     VALID_CRAVING)  # fmt: skip

SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)


def _hits_match_triggers(db: Database, user_id: int) -> bool:
    """Every stored check-in has exactly one trigger row per trigger in its list: no half-written record."""

    async def work(session: AsyncSession) -> bool:
        rows = (await session.execute(select(CheckIn.id, CheckIn.triggers).where(CheckIn.user_id == user_id))).all()
        hits = dict(
            (
                await session.execute(
                    select(TriggerHit.checkin_id, func.count()).where(TriggerHit.user_id == user_id,
                                                                       TriggerHit.checkin_id.is_not(None))
                    .group_by(TriggerHit.checkin_id)
                )
            ).all()
        )  # fmt: skip
        return all(hits.get(cid, 0) == len(triggers) for cid, triggers in rows)

    return db.run(work)


def test_checkin_endpoint_never_fails_on_arbitrary_input(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    outcomes: list[int] = []

    @SETTINGS
    @given(fields=CHECKINS, htmx=st.booleans())
    def run(fields: dict[str, Any], htmx: bool) -> None:
        before = db.scalar("SELECT count(*) FROM checkin WHERE user_id = :u", u=user.id)
        subs_before = db.scalar("SELECT count(*) FROM checkin_submission WHERE user_id = :u", u=user.id)
        send = htmx_post if htmx else post_form
        response = send(client, "/checkin", _form(fields))
        assert response.status_code < 500, response.text[-2000:]
        outcomes.append(response.status_code)
        after = db.scalar("SELECT count(*) FROM checkin WHERE user_id = :u", u=user.id)
        subs_after = db.scalar("SELECT count(*) FROM checkin_submission WHERE user_id = :u", u=user.id)
        if response.status_code >= 400:
            assert response.status_code in (409, 422)
            assert (after, subs_after) == (before, subs_before)
        else:
            assert after - before in (0, 1) and subs_after - subs_before in (0, 1)
        assert _hits_match_triggers(db, user.id)  # type: ignore[arg-type]

    run()
    assert any(code < 400 for code in outcomes) and any(code == 422 for code in outcomes)


def test_craving_endpoint_never_fails_on_arbitrary_input(client: TestClient, db: Database) -> None:
    user = signed_in_patient(client, db)
    outcomes: list[int] = []

    @SETTINGS
    @given(fields=CRAVINGS, htmx=st.booleans())
    def run(fields: dict[str, Any], htmx: bool) -> None:
        before = db.scalar("SELECT count(*) FROM craving_log WHERE user_id = :u", u=user.id)
        hits_before = db.scalar("SELECT count(*) FROM trigger_hit WHERE user_id = :u", u=user.id)
        send = htmx_post if htmx else post_form
        response = send(client, "/cravings", _form(fields))
        assert response.status_code < 500, response.text[-2000:]
        outcomes.append(response.status_code)
        after = db.scalar("SELECT count(*) FROM craving_log WHERE user_id = :u", u=user.id)
        hits_after = db.scalar("SELECT count(*) FROM trigger_hit WHERE user_id = :u", u=user.id)
        if response.status_code >= 400:
            assert response.status_code in (409, 422)
            assert (after, hits_after) == (before, hits_before)
        elif after == before + 1:
            triggers = [t for t in fields.get("triggers", []) if t]
            assert hits_after - hits_before == len(set(triggers))
        else:
            assert after == before and hits_after == hits_before  # a replay of an earlier key

    run()
    assert any(code < 400 for code in outcomes) and any(code == 422 for code in outcomes)

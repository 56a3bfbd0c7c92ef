"""No personal data in the logs: a database error raised while saving what a person wrote (a canary in the note,
the name and the email) is logged with its type, file and line, never with the values — on both databases, in
every captured log line, whatever handler formats it."""

from __future__ import annotations

import logging

import pytest
from litestar.testing import TestClient

from server.web.logging import WITHHELD, JsonFormatter
from tests.conftest import Database, post_form
from tests.support.checkins import checkin_data, signed_in_patient

CANARY = "CANARY-7f3a-personal"


def test_a_database_error_never_puts_what_a_person_wrote_in_a_log(
    client: TestClient, db: Database, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    signed_in_patient(client, db)
    db.execute("ALTER TABLE checkin_submission RENAME TO checkin_submission_away")
    try:
        with caplog.at_level(logging.DEBUG):
            failed = post_form(client, "/checkin", checkin_data(note=f"{CANARY} a hard evening"))
    finally:
        db.execute("ALTER TABLE checkin_submission_away RENAME TO checkin_submission")
    assert failed.status_code == 500  # the friendly error page (what was typed stays on the phone)
    assert CANARY not in failed.text

    errors = [r for r in caplog.records if r.exc_info]
    assert errors, "the error was not logged at all"
    formatter = JsonFormatter()
    lines = [formatter.format(r) for r in caplog.records] + [logging.Formatter().format(r) for r in caplog.records]
    assert any("checkin_submission" in line or "Error" in line for line in lines)  # the log is still useful
    assert any(WITHHELD in line for line in lines)
    for line in lines + capfd.readouterr().err.splitlines():
        assert CANARY not in line

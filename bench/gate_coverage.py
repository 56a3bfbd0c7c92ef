"""How much of the app the therapist consent gate covers: routes in the table, therapist routes that name a
patient, and how many of those refuse a care-team patient who shares nothing (and write no access-log row).

    python -m bench.gate_coverage
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

from litestar.testing import TestClient

from server.accounts.models import Role
from server.app import create_app
from server.db import migrate
from server.settings import Settings
from server.sharing.weeks import Week
from tests.conftest import Database, login
from tests.support.checkins import today_for
from tests.test_sharing_support import share
from tests.test_therapist_gate import _call, _url, log_rows, therapist_patient_routes


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'steady.db'}"
        migrate(url)
        settings = Settings.from_env({"STEADY_DATA_DIR": folder, "DATABASE_URL": url, "SECRET_KEY": "g" * 40},
                                     migrate_on_start=False, run_dispatcher_in_app=False)  # fmt: skip
        db = Database(url)
        therapist = db.make_user(Role.THERAPIST, "t@example.org")
        silent = db.make_user(Role.PATIENT, "silent@example.org", therapist=therapist)
        sharing = db.make_user(Role.PATIENT, "sharing@example.org", therapist=therapist)
        share(db, sharing, therapist, data_from=today_for(sharing) - timedelta(days=30))
        week = Week.of(today_for(sharing)).label
        app = create_app(settings)
        with TestClient(app) as client:
            login(client, therapist.email)
            all_routes = sum(len(r.route_handlers) for r in app.routes)
            routes = therapist_patient_routes(app)
            refused = [(m, p) for m, p in routes if _call(client, m, _url(p, silent, week), week).status_code == 404]
            opened = [p for m, p in routes if m == "GET" and client.get(_url(p, sharing, week)).status_code == 200]
            print(f"route handlers in the table: {all_routes}")
            print(f"therapist routes that name a patient: {len(routes)}")
            print(f"  refuse a care-team patient who shares nothing: {len(refused)} of {len(routes)}")
            print(f"  access-log rows written for that patient: {log_rows(db, silent)}")
            print(f"  GET routes open to a patient who shares: {len(opened)}; log rows: {log_rows(db, sharing)}")


if __name__ == "__main__":
    main()

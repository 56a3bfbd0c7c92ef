"""Sharing: the patient's consent to a therapist, weekly summaries, the therapist's dashboard and the access log.

Modules:
- `controllers` — the routes (patient: /sharing…; therapist: /therapist…; admin: /admin/flags); see its docstring.
- `access` — `require_shared_views(db, therapist, patient_ids=None, week=None, kind=...)` /
  `require_shared_view(db, therapist, patient_id, week, kind=...)`: the one door to shared data (404 for no
  consent in force, another clinic or a week outside the consent window; writes the access log).
- `summary` — `WeekRequest`, `WeeklySummary`, `weekly_summary(db, request, thresholds)`,
  `weekly_summaries(db, requests, thresholds)` (a fixed number of queries for any number of patients),
  `sober_days(db, {patient_id: local today})`.
- `exports` — `summary_csv`, `summary_pdf` (ReportLab), both with the 42 CFR § 2.32 notice.
- `thresholds` — `Thresholds.for_clinic(clinic)` from `Clinic.settings["flag_thresholds"]`.
- `weeks` — `Week` (ISO week in the patient's timezone: `Week.parse("2026-W47")`, `.utc_bounds(tz)`).
- `patient` — the consent screen's facts for a therapist, narrowing one category, nudges.
- `notify` — the homework and nudge pushes (no health details on a lock screen).
- `models` — `SharingNudge` (consents and the access log live in `server.consent`).
"""

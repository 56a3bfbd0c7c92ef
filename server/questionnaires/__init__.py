"""Measurement-based care: the PHQ-9, GAD-7 and Brief Addiction Monitor (IOP form) on a schedule, scored, with the
PHQ-9 item-9 safety path.

* `instruments` — the data files (`instruments/*.toml`: source, licence, published wording in English and
  Spanish, options, scoring, bands, flags, reliable change) and their strict loader.
* `scoring` — pure scoring, dashboard flags (clinic-adjustable `Thresholds`) and reliable change.
* `models` — `Assignment` (per patient; the clinic default lives in `Clinic.settings`), `Response` (draft →
  complete, exactly once per idempotency key; the safety follow-up).
* `service` — schedules and what is due, drafts, completing, who sees a result, the one-time share, follow-ups.

Shared with therapists only through the consent category "questionnaires" (server/consent) and the gate in
server/sharing/access.py. Importing this package registers the "questionnaire" reminder kind.
"""

from server.questionnaires import kinds as kinds  # registers the reminder kind with server.push

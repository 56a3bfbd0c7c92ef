"""Consent: signed, versioned, revocable permission for one person to see some of a patient's information,
and the log of every disclosure made under it. Used by `server.sharing` (therapists) and `server.family`.

Tables (`server.consent.models`): `Consent` (immutable once signed: only `revoked_at` / `superseded_by_id` ever
change; a change of what is shared is a new version that supersedes the old) and `DisclosureLog`.

Public API
----------
Reading (`server.consent.service`):
- `active_consent(db, patient_id, recipient_id, at=None) -> Consent | None` — the version in force at `at`
  (newest version signed by then, inside [starts_at, ends_at), not revoked by then). One query.
- `active_consents(db, recipient_id, at=None, *, patient_ids=None, recipient_kind=None) -> dict[patient_id, Consent]`
  — the same for every patient sharing with one recipient, in one query (dashboards, notification batches).
- `allowed_categories(db, patient_id, recipient_id, at=None) -> frozenset[str]` — empty when nothing is shared.
- `current_consent(db, patient_id, recipient_id) -> Consent | None` — newest version whatever its state.
- `consents_for_patient(db, patient_id, *, recipient_kind=None) -> list[ConsentRow(consent, recipient_name, state)]`
  — state is 'active' | 'upcoming' | 'expired' | 'revoked' | 'replaced'.
- `disclosures_for_patient(db, patient_id, limit=200) -> list[LogEntry(at, viewer_name, kind, subject)]`.
- `redisclosure_notice() -> str` — the 42 CFR § 2.32 notice (from `redisclosure_notice.txt`).

Writing (`server.consent.service`; all flush in the caller's transaction, never commit):
- `sign_consent(db, *, patient, recipient, recipient_kind, categories, purpose, data_from, ends_at, wording,
  signature, until_program_end=False, locale='en', now=None) -> Consent` — numbers the version, supersedes the
  pair's consent in force. Raises ValueError for an empty category list, a period over a year, another clinic.
- `revoke(db, *, patient_id, consent_id, now=None) -> Consent | None` — None if not the patient's; immediate.
- `revoke_all_for_recipient(db, *, patient_id, recipient_id, now=None) -> int`.
- `record_disclosure(db, *, patient_id, viewer, kind, subject='', consent_id=None, at=None) -> DisclosureLog`
  — kind: 'summary_view' | 'export_pdf' | 'export_csv' | 'dashboard' | 'notification'. Call it in the SAME
  session/transaction as the read it records.
- `record_disclosures(db, rows=[(patient_id, consent_id, subject), ...], *, viewer, kind, at=None) -> int`.

The consent screen (`server.consent.forms`, `server.consent.wording`, template `consent/_consent_form.html`):
- `THERAPIST_CATEGORIES`, `FAMILY_CATEGORIES`: tuples of `CategoryOption(id, label, hint, default, sensitive)`.
- `ConsentTerms(patient_name, discloser, recipient_name, recipient_description, purpose, options, ...)` — the
  facts every § 2.31 element is built from; `consent_sections(terms)` / `plain_text(title, sections)`.
- `ConsentFormSpec(action, terms, today, title='', submit_label='', program_start=None, program_end=None,
  hidden={}, hx_target='')`; `initial_values(spec, previous=None)`; `form_context(spec, values, errors)` → put it
  in the page context as `consent` and `{% include "consent/_consent_form.html" %}`;
  `validate_consent_form(raw_values, spec, patient) -> ConsentValidation(choice, errors, values)`; on success
  `sign_consent(db, patient=..., recipient=..., recipient_kind=..., purpose=..., locale=...,
  **validation.choice.sign_kwargs())`. Read raw values with `form_values(request, list_fields=("categories",))`.
- `program_bounds(db, patient, today) -> (program_start, program_end)` — local dates of the patient's current
  program enrolment, for the "from the start of / until the end of my program" choices.
"""

from server.consent.forms import (
    ConsentChoice,
    ConsentFormSpec,
    ConsentValidation,
    form_context,
    initial_values,
    validate_consent_form,
)
from server.consent.models import Consent, DisclosureLog, ImmutableConsentError
from server.consent.program import program_bounds
from server.consent.service import (
    ConsentRow,
    LogEntry,
    active_consent,
    active_consents,
    allowed_categories,
    consents_for_patient,
    current_consent,
    disclosures_for_patient,
    record_disclosure,
    record_disclosures,
    redisclosure_notice,
    revoke,
    revoke_all_for_recipient,
    sign_consent,
)
from server.consent.wording import (
    FAMILY_CATEGORIES,
    THERAPIST_CATEGORIES,
    CategoryOption,
    ConsentTerms,
    consent_sections,
    plain_text,
)

__all__ = [
    "FAMILY_CATEGORIES",
    "THERAPIST_CATEGORIES",
    "CategoryOption",
    "Consent",
    "ConsentChoice",
    "ConsentFormSpec",
    "ConsentRow",
    "ConsentTerms",
    "ConsentValidation",
    "DisclosureLog",
    "ImmutableConsentError",
    "LogEntry",
    "active_consent",
    "active_consents",
    "allowed_categories",
    "consent_sections",
    "consents_for_patient",
    "current_consent",
    "disclosures_for_patient",
    "form_context",
    "initial_values",
    "plain_text",
    "program_bounds",
    "record_disclosure",
    "record_disclosures",
    "redisclosure_notice",
    "revoke",
    "revoke_all_for_recipient",
    "sign_consent",
    "validate_consent_form",
]

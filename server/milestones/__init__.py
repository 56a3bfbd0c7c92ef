"""Milestone detection: reads the clinical tables (sobriety dates, check-ins, the program schedule) and records
good news for family through ``server.family.milestones``. It has no tables of its own.

Public API:

* ``evaluate_all(db, now_utc=None) -> EvaluationReport`` — every patient with a family member listening, in a
  fixed number of set-based queries (the daily/hourly batch).
* ``evaluate_patient(db, patient_id, now_utc=None) -> EvaluationReport`` — one patient, right after a check-in
  or a sobriety-date change, in the same transaction.
* ``evaluate_patient_safely(db, patient_id)`` — the same for request handlers: a savepoint, and errors are
  logged, never raised (one query when the patient has no family member listening).
* ``record_saved_listener()`` — the above as a check-in "record saved" listener that runs only when someone
  listens (read in the check-in save's own statement).
* ``with_milestone_hooks(hooks) -> DispatcherHooks`` — adds the hourly batch as a push-dispatcher planner and
  the family send-time checks; ``steady milestones`` runs the batch once from the command line.
"""

from server.milestones.detector import (
    EvaluationReport,
    evaluate_all,
    evaluate_patient,
    evaluate_patient_safely,
    record_saved_listener,
)

__all__ = ["EvaluationReport", "evaluate_all", "evaluate_patient", "evaluate_patient_safely", "record_saved_listener"]

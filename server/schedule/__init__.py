"""Schedule: programs that step down phase by phase, their weekly groups and one-off changes, enrolments,
attendance and the patient's calendar feed.

Other domains call `server.schedule.logic` (sessions_for_patient, next_session, attendance_summary,
completed_phases, program_completed, occurrences_starting_between, family_info_for_patient); the Today page
uses `server.schedule.views.today_context`.
"""

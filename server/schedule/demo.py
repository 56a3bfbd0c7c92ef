"""Demo data for the schedule: an "Evening IOP" that steps down over 12 weeks, the three demo patients
enrolled eight weeks ago, and a realistic (mostly attended) attendance history."""

from __future__ import annotations

from datetime import time, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import User
from server.db import pk, utcnow
from server.schedule import logic
from server.schedule.models import Enrolment, GroupPattern, Program, ProgramPhase

DEMO_TIMEZONE = "America/New_York"
# (phase name, first week, last week, [(weekday, title), ...]); every group meets 18:00–19:30.
DEMO_PHASES = (
    (
        "Weeks 1–4: four evenings a week",
        1,
        4,
        [(0, "Relapse prevention group"), (1, "Coping skills group"), (2, "Process group"), (3, "Mindfulness group")],
    ),
    (
        "Weeks 5–8: three evenings a week",
        5,
        8,
        [(0, "Relapse prevention group"), (2, "Process group"), (3, "Mindfulness group")],
    ),
    ("Weeks 9–12: two evenings a week", 9, 12, [(0, "Relapse prevention group"), (3, "Process group")]),
)
DEMO_PATIENTS = ("sam@demo.steady", "jordan@demo.steady", "casey@demo.steady")


async def load_schedule_demo(db: AsyncSession, people: dict[str, User]) -> None:
    clinic_id = people["admin@demo.steady"].clinic_id
    program = Program(
        clinic_id=clinic_id,
        name="Evening IOP",
        description="Twelve weeks of evening groups that step down from four evenings a week to two.",
        timezone=DEMO_TIMEZONE,
        family_info=(
            "Family education group: first Thursday of each month, 18:00–19:30, Room 4.\n"
            "Questions about the program? Call the front desk on +1-555-0100."
        ),
    )
    db.add(program)
    await db.flush()
    for name, first, last, groups in DEMO_PHASES:
        phase = ProgramPhase(
            program_id=pk(program),
            name=name,
            start_week=first,
            end_week=last,
            groups_per_week=len(groups),
        )
        db.add(phase)
        await db.flush()
        for weekday, title in groups:
            db.add(
                GroupPattern(
                    phase_id=pk(phase),
                    title=title,
                    weekday=weekday,
                    start_time=time(18, 0),
                    duration_minutes=90,
                    location="Room 2, 14 Main Street",
                    video_url="https://video.example.org/evening-iop" if title == "Process group" else "",
                    facilitator="Dr. Rivera",
                )
            )
    await db.flush()
    now = utcnow()
    today = now.astimezone(logic.zone(DEMO_TIMEZONE)).date()
    start = today - timedelta(weeks=8)
    start -= timedelta(days=start.weekday())  # the Monday eight weeks ago
    enrolments = []
    for email in DEMO_PATIENTS:
        enrolment = Enrolment(patient_id=pk(people[email]), program_id=pk(program), start_date=start)
        db.add(enrolment)
        enrolments.append(enrolment)
    await db.flush()
    # Attendance: Sam goes nearly always, Jordan misses some lately (a risk sign to notice), Casey hasn't
    # marked the last week yet.
    for index, email in enumerate(DEMO_PATIENTS):
        patient = people[email]
        past = await logic.sessions_for_patient(db, pk(patient), now - timedelta(weeks=9), now)
        recent_cutoff = now - timedelta(days=7)
        for number, occ in enumerate(o for o in past if not o.cancelled):
            if index == 2 and occ.starts_at > recent_cutoff:
                continue
            if index == 0:
                status = "missed" if number == 5 else "attended"
            elif index == 1:
                status = "missed" if number % 4 == 3 or occ.starts_at > now - timedelta(days=10) else "attended"
            else:
                status = "missed" if number % 6 == 2 else "attended"
            await logic.mark_attendance(db, pk(patient), occ, status, pk(patient))

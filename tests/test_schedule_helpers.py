"""Helpers shared by the schedule tests (no tests here): build programs and enrolments straight in the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time

from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.models import Clinic
from server.schedule.models import Enrolment, GroupPattern, Program, ProgramPhase
from tests.conftest import Database

# (phase name, first week, last week, [(weekday, "HH:MM", title), ...])
PhaseSpec = tuple[str, int, int, list[tuple[int, str, str]]]

STEP_DOWN: list[PhaseSpec] = [
    ("Weeks 1-4", 1, 4, [(0, "18:00", "Relapse prevention"), (1, "18:00", "Coping skills"),
                         (2, "18:00", "Process group"), (3, "18:00", "Mindfulness")]),
    ("Weeks 5-8", 5, 8, [(0, "18:00", "Relapse prevention"), (2, "18:00", "Process group"),
                         (3, "18:00", "Mindfulness")]),
    ("Weeks 9-12", 9, 12, [(0, "18:00", "Relapse prevention"), (3, "18:00", "Mindfulness")]),
]  # fmt: skip


@dataclass
class BuiltProgram:
    id: int
    phases: dict[str, int] = field(default_factory=dict)
    groups: dict[tuple[str, str], int] = field(default_factory=dict)  # (phase name, title) → pattern id


def make_program(
    db: Database,
    *,
    clinic_id: int = 1,
    name: str = "Evening IOP",
    timezone: str = "America/New_York",
    phases: list[PhaseSpec] | None = None,
    location: str = "Room 2",
    video_url: str = "",
    active: bool = True,
) -> BuiltProgram:
    async def work(session: AsyncSession) -> BuiltProgram:
        if await session.get(Clinic, clinic_id) is None:
            session.add(Clinic(id=clinic_id, name=f"Clinic {clinic_id}", timezone="America/New_York"))
            await session.flush()
        program = Program(clinic_id=clinic_id, name=name, timezone=timezone, active=active)
        session.add(program)
        await session.flush()
        built = BuiltProgram(id=program.id)  # type: ignore[arg-type]
        for phase_name, start, end, groups in STEP_DOWN if phases is None else phases:
            phase = ProgramPhase(
                program_id=program.id,  # type: ignore[arg-type]
                name=phase_name,
                start_week=start,
                end_week=end,
                groups_per_week=len(groups),
            )
            session.add(phase)
            await session.flush()
            built.phases[phase_name] = phase.id  # type: ignore[assignment]
            for weekday, at, title in groups:
                hour, minute = (int(x) for x in at.split(":"))
                pattern = GroupPattern(
                    phase_id=phase.id,  # type: ignore[arg-type]
                    title=title,
                    weekday=weekday,
                    start_time=time(hour, minute),
                    duration_minutes=90,
                    location=location,
                    video_url=video_url,
                    facilitator="Dr. Rivera",
                )
                session.add(pattern)
                await session.flush()
                built.groups[(phase_name, title)] = pattern.id  # type: ignore[assignment]
        return built

    return db.run(work)


def enrol(db: Database, patient_id: int, program_id: int, start: date, **extra: object) -> int:
    async def work(session: AsyncSession) -> int:
        enrolment = Enrolment(patient_id=patient_id, program_id=program_id, start_date=start, **extra)  # type: ignore[arg-type]
        session.add(enrolment)
        await session.flush()
        return enrolment.id  # type: ignore[return-value]

    return db.run(work)

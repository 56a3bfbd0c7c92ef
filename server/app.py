"""Assemble Steady from a settings object: database, security, templates and the domain packages."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import anyio
from advanced_alchemy.extensions.litestar.store import SQLAlchemyStore
from litestar import Litestar, Router
from litestar.config.compression import CompressionConfig
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import CacheControlHeader
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.static_files import create_static_files_router
from litestar.stores.registry import StoreRegistry
from litestar_htmx import HTMXPlugin
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.controllers import AccountController, AdminController, AuthController, InviteController
from server.accounts.csrf import SessionBoundCSRFMiddleware
from server.accounts.middleware import SessionAuthMiddleware
from server.accounts.models import KeyValueStore
from server.accounts.passwords import dummy_hash
from server.accounts.sessions import cookie_name, csrf_cookie_name
from server.aftercare import meetings as aftercare_meetings
from server.aftercare import plan as aftercare_plan
from server.aftercare.controllers import AftercareController
from server.aftercare.meeting_controllers import MeetingAdminController, MeetingFinderController
from server.checkins.controllers import CheckInController
from server.checkins.events import listeners_state
from server.checkins.export import EXPORT_SECTIONS_KEY
from server.consent.program import end_consents_with_program
from server.crisis import logic as crisis_logic
from server.crisis.controllers import ClinicSettingsController, CrisisController, SafetyPlanController
from server.db import alchemy_config, alchemy_plugin, migrate
from server.family.controllers import FamilyCircleController, FamilyController
from server.milestones import evaluate_patient_safely, record_saved_listener
from server.milestones.hooks import dispatcher_hooks
from server.push.controllers import DeliveriesAdminController, PushApiController
from server.push.dispatcher import dispatcher_lifespan
from server.questionnaires import export as questionnaires_upcoming
from server.questionnaires.controllers import QuestionnaireController
from server.questionnaires.controllers import export_section as questionnaires_export
from server.questionnaires.therapist import (
    QuestionnaireSettingsController,
    TherapistQuestionnaireController,
)
from server.questionnaires.therapist import program_ended as questionnaires_after_discharge
from server.reminders.controllers import RemindersController
from server.reminders.planner import program_ended as reminders_after_discharge
from server.schedule import events as schedule_events
from server.schedule.calendar import EXTRA_EVENTS_KEY
from server.schedule.controllers import CalendarFeedController, PatientScheduleController, ProgramAdminController
from server.settings import Settings
from server.sharing.attendance import TherapistScheduleController
from server.sharing.controllers import FlagSettingsController, SharingController, TherapistController
from server.skills import logic as skills_logic
from server.skills.catalogue import default_catalogue
from server.skills.controllers import SkillsController
from server.today.controllers import TodayController
from server.web.compression import IsalGzipMiddleware
from server.web.forms import NO_FORM
from server.web.logging import configure_logging
from server.web.middleware import RequestMiddleware, security_headers_hook
from server.web.pwa import PwaController
from server.web.replay import offline_owner
from server.web.responses import SteadyRequest, exception_handlers
from server.web.static import STATIC_DIR
from server.web.templating import publish_route_paths, template_config

ONE_YEAR = 365 * 24 * 3600


async def _milestones_after_discharge(db: AsyncSession, patient_id: int, _last_day: date) -> None:
    await evaluate_patient_safely(db, patient_id)


def _wire_domains(app: Litestar, settings: Settings, session_maker: Any) -> None:
    """What the domains announce and who listens, kept in the application's state (so imports point one way)."""
    app.state.settings = settings
    app.state.session_maker = session_maker
    # A saved check-in or sobriety date may complete a milestone (check-ins announce it; milestones listen).
    app.state.update(listeners_state([record_saved_listener()]))
    # The patient's export (JSON and zip) also carries skill practice, the safety plan, questionnaires (answered
    # and coming up) and the aftercare plan (check-ins own the export; the other domains add to it).
    app.state[EXPORT_SECTIONS_KEY] = (
        skills_logic.export_section,
        crisis_logic.export_section,
        questionnaires_export,
        questionnaires_upcoming.upcoming_section,
        aftercare_plan.export_section,
    )
    # The private calendar feed also carries the support meetings the patient added (the schedule owns the feed).
    app.state[EXTRA_EVENTS_KEY] = (aftercare_meetings.calendar_meetings,)
    # A discharge: group reminders stop, "until the end of my program" consents end, a finished program may be
    # family news (the schedule announces it; these listen).
    app.state.update(
        schedule_events.listeners_state(
            [
                reminders_after_discharge,
                end_consents_with_program,
                _milestones_after_discharge,
                questionnaires_after_discharge,
            ]
        )
    )


def _lifespan(settings: Settings, db_config: Any) -> Any:
    @asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            await anyio.to_thread.run_sync(migrate, settings.database_url)
        try:
            yield
        finally:
            # Close pooled connections with the event loop that opened them (asyncpg's are bound to it), so a
            # restarted lifespan - a reload, or the test suite's one app per session - starts with fresh ones.
            await db_config.get_engine().dispose()

    return lifespan


def _static_router() -> Router:
    return create_static_files_router(
        path="/static",
        directories=[STATIC_DIR],
        cache_control=CacheControlHeader(max_age=ONE_YEAR, public=True),
        include_in_schema=False,
        send_as_attachment=False,
        opt=NO_FORM,
    )


def compression_config() -> CompressionConfig:
    """Gzip from 500 bytes, with ISA-L (server/web/compression.py): zlib's level 3 took a twelfth of Today's CPU."""
    return CompressionConfig(backend="gzip", minimum_size=500, middleware_class=IsalGzipMiddleware)


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    configure_logging()
    default_catalogue()  # a broken skills/cards.toml stops start-up with the file, card and field named
    dummy_hash()  # paid at start-up, not by the first sign-in to an unknown address
    db_config = alchemy_config(settings)
    session_maker = db_config.create_session_maker()

    lifespan = _lifespan(settings, db_config)
    def provide_settings() -> Settings:
        return settings

    static_router = _static_router()
    route_handlers: list = [
        AuthController,
        AccountController,
        InviteController,
        AdminController,
        PwaController,
        TodayController,
        AftercareController,
        MeetingFinderController,
        MeetingAdminController,
        TherapistController,
        SharingController,
        FlagSettingsController,
        FamilyController,
        FamilyCircleController,
        CheckInController,
        QuestionnaireController,
        TherapistQuestionnaireController,
        QuestionnaireSettingsController,
        SkillsController,
        CrisisController,
        SafetyPlanController,
        ClinicSettingsController,
        ProgramAdminController,
        PatientScheduleController,
        TherapistScheduleController,
        CalendarFeedController,
        RemindersController,
        PushApiController,
        DeliveriesAdminController,
        static_router,
    ]
    app = Litestar(
        route_handlers=route_handlers,
        plugins=[alchemy_plugin(db_config), HTMXPlugin()],
        request_class=SteadyRequest,
        dependencies={"settings": Provide(provide_settings, sync_to_thread=False)},
        middleware=[
            DefineMiddleware(RequestMiddleware, settings=settings),
            SessionAuthMiddleware(db_config, cookie_name(settings)),
            DefineMiddleware(
                SessionBoundCSRFMiddleware,
                config=CSRFConfig(
                    secret=settings.secret_key,
                    cookie_name=csrf_cookie_name(settings),
                    cookie_secure=settings.https,
                    cookie_samesite="lax",
                    header_name="x-csrftoken",
                ),
                session_cookie=cookie_name(settings),
            ),
        ],
        before_send=[security_headers_hook(settings)],
        compression_config=compression_config(),
        # Every named store lives in the database, so several processes share it (never in memory).
        stores=StoreRegistry(
            default_factory=lambda name: SQLAlchemyStore(db_config, model=KeyValueStore, namespace=name)
        ),
        template_config=template_config(
            {**crisis_logic.template_globals(), "offline_owner": functools.partial(offline_owner, settings.secret_key)}
        ),
        exception_handlers=exception_handlers,
        lifespan=[lifespan, dispatcher_lifespan(settings, session_maker, dispatcher_hooks())],
        debug=settings.debug,
        openapi_config=None,
    )
    _wire_domains(app, settings, session_maker)
    publish_route_paths(app)
    return app

"""Family routes.

The patient's side (patients only), ``/family-circle``:

* ``GET  /family-circle``                        my family members, invite, good news, kind words, what was sent
* ``POST /family-circle/invite``                 create a one-time family invite (code + link shown once)
* ``POST /family-circle/good-news``              share good news (≤ 280 characters; idempotent)
* ``POST /family-circle/encouragement``          receive kind words on/off (``receive=1|0``)
* ``POST /family-circle/encouragement/read``     "thanks, I've read them" from Today
* ``GET  /family-circle/{link_id}``              one member: the consent screen, pause, stop, remove
* ``POST /family-circle/{link_id}/consent``      sign (a new version of) the consent: which milestone kinds
* ``POST /family-circle/{link_id}/stop``         revoke the consent and switch everything off
* ``POST /family-circle/{link_id}/pause``        pause or resume updates (``paused=1|0``)
* ``POST /family-circle/{link_id}/remove``       revoke, forget their feed and unlink

The family member's side (family accounts only), ``/family``: ``GET /family`` (the milestone feed),
``GET /family/about`` (program information and support), ``GET|POST /family/encourage`` (send a kind word).

No route here returns check-ins, cravings, triggers, notes, skill practice or summaries: this package doesn't
import the code that reads them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.guards import family_only, patient_only
from server.accounts.invites import create_invite
from server.accounts.models import Clinic, FamilyLink, Role, User
from server.consent import (
    FAMILY_CATEGORIES,
    ConsentFormSpec,
    ConsentTerms,
    current_consent,
    form_context,
    initial_values,
    program_bounds,
    sign_consent,
    validate_consent_form,
)
from server.consent.service import consents_for_patient
from server.db import DbSession, pk, utcnow
from server.family import encouragement, service
from server.family.forms import (
    EncourageForm,
    FamilyInviteForm,
    GoodNewsForm,
    PauseForm,
    ReceiveForm,
    RemoveForm,
)
from server.family.milestones import in_locale
from server.family.models import MESSAGE_MAX
from server.i18n import current_locale
from server.i18n import gettext as _
from server.localtime import zone_for
from server.settings import AppSettings
from server.web.forms import form_values, read_form
from server.web.logging import get_logger
from server.web.responses import form_page, redirect, redirect_to, render

log = get_logger("family")


def _zone(user: User) -> ZoneInfo:
    return zone_for(user.timezone)


def _local_today(user: User) -> Any:
    return utcnow().astimezone(_zone(user)).date()


def when_text(moment: datetime, user: User) -> str:
    return format_date(moment.astimezone(_zone(user)).date(), "long", locale=current_locale.get())


def _kind_labels() -> dict[str, str]:
    return {o.id: str(o.label) for o in FAMILY_CATEGORIES}


# -- the patient's side ------------------------------------------------------------------------------------------


async def _consent_spec(db: AsyncSession, patient: User, person: User, link: FamilyLink) -> ConsentFormSpec:
    clinic = await db.get(Clinic, patient.clinic_id)
    today = _local_today(patient)
    _start, end = await program_bounds(db, patient, today)
    relationship = link.relationship_label
    description = (
        _("your %(relationship)s, who uses Steady as a family member") % {"relationship": relationship}
        if relationship
        else _("a family member you invited to Steady")
    )
    terms = ConsentTerms(
        patient_name=patient.display_name,
        discloser=clinic.name if clinic else "Steady",
        recipient_name=person.display_name,
        recipient_description=description,
        purpose=_(
            "So %(name)s can share in my progress and encourage me. Only the milestones ticked below are sent, "
            "as short notifications and in their Steady feed; never my check-ins, cravings, notes or anything else."
        )
        % {"name": person.display_name},
        options=FAMILY_CATEGORIES,
        revoke_where=_("the My family circle page"),
    )
    return ConsentFormSpec(
        action=f"/family-circle/{link.id}/consent",
        terms=terms,
        today=today,
        title=_("Consent to share good news with %(name)s") % {"name": person.display_name},
        submit_label=_("Sign and switch on"),
        program_start=None,  # milestones are news from today on; "from the start of my program" doesn't apply
        program_end=end,
    )


class FamilyCircleController(Controller):
    path = "/family-circle"
    guards = [patient_only]

    async def _page(self, request: Request, db: AsyncSession, status_code: int = 200, **extra: Any) -> Template:
        patient: User = request.user
        assert patient.id is not None
        now = utcnow()
        members = await service.members(db, patient.id, now)
        context: dict[str, Any] = {
            "members": members,
            "kind_labels": _kind_labels(),
            "invites": [
                (i, when_text(i.expires_at, patient)) for i in await service.pending_invites(db, patient.id, now)
            ],
            "listeners": await service.good_news_listeners(db, patient.id, now),
            "receive_encouragement": await encouragement.receives_encouragement(db, patient.id),
            "log": [(when_text(d.at, patient), d) for d in await service.notification_log(db, patient)],
            "good_news": {"idempotency_key": encouragement.new_key()},
            "invite_values": {},
            "new_code": None,
            "message_max": MESSAGE_MAX,
        }
        return form_page(request, "family/circle.html", context, status_code=status_code, **extra)

    @get("/", name="family:circle")
    async def circle(self, request: Request, db_session: DbSession) -> Template:
        return await self._page(request, db_session)

    @post("/invite", name="family:invite")
    async def invite(self, request: Request, db_session: DbSession, settings: AppSettings) -> Template:
        result = await read_form(request, FamilyInviteForm)
        if not result.ok or result.data is None:
            return await self._page(
                request, db_session, 422, invite_values=result.values, errors=result.errors, errors_for="invite"
            )
        _invite, code = await create_invite(
            db_session,
            request.user,
            Role.FAMILY,
            valid_hours=settings.invite_valid_hours,
            note=result.data.relationship,
        )
        link = f"{settings.base_url}/join?code={code}"
        return await self._page(request, db_session, 201, new_code=code, new_link=link)

    @post("/good-news", name="family:good_news")
    async def good_news(self, request: Request, db_session: DbSession) -> Response[Any] | Template:
        result = await read_form(request, GoodNewsForm)
        errors = dict(result.errors)
        if result.ok and result.data is not None:
            shared = await service.share_good_news(
                db_session, request.user, result.data.message, result.data.idempotency_key
            )
            if shared.error:
                errors["message"] = _("This form was already sent with other words. Please reload the page.")
            else:
                return redirect_to(request, "family:circle", "?notice=good-news#good-news")
        values = {**result.values}
        if not str(values.get("idempotency_key", "")).strip():
            values["idempotency_key"] = encouragement.new_key()
        return await self._page(request, db_session, 422, good_news=values, errors=errors, errors_for="good_news")

    @post("/encouragement", name="family:receive")
    async def receive(self, request: Request, db_session: DbSession) -> Response[Any] | Template:
        result = await read_form(request, ReceiveForm)
        if not result.ok or result.data is None:
            return await self._page(request, db_session, 422, errors=result.errors, errors_for="receive")
        await encouragement.set_receive_encouragement(db_session, request.user.id, result.data.receive)
        return redirect(
            request, "/family-circle?notice=" + ("kind-on" if result.data.receive else "kind-off") + "#kind-words"
        )

    @post("/encouragement/read", name="family:read")
    async def read(self, request: Request, db_session: DbSession) -> Response[Any]:
        await encouragement.mark_all_read(db_session, request.user.id)
        return redirect_to(request, "today:today")

    async def _member_page(
        self,
        request: Request,
        db: AsyncSession,
        link_id: int,
        status_code: int = 200,
        values: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None,
        **extra: Any,
    ) -> Template:
        patient: User = request.user
        assert patient.id is not None
        link, person = await service.member_or_404(db, patient.id, link_id)
        member = next((m for m in await service.members(db, patient.id) if m.link.id == link.id), None)
        if member is None:
            raise NotFoundException()
        spec = await _consent_spec(db, patient, person, link)
        if values is None:
            previous = await current_consent(db, pk(patient), pk(person))
            values = initial_values(spec, previous if member.consent is not None else None)
            if member.consent is None:
                values["categories"] = []  # nothing is ticked until the patient ticks it
        history = [
            (row, when_text(row.consent.signed_at, patient))
            for row in await consents_for_patient(db, patient.id, recipient_kind="family")
            if row.consent.recipient_id == person.id
        ]
        with in_locale(person.locale):  # in their words and language, exactly as their feed shows it
            preview = await service.feed(db, person, limit=10, patient_id=patient.id)
        context: dict[str, Any] = {
            "member": member,
            "preview": preview,
            "kind_labels": _kind_labels(),
            "consent": form_context(spec, values, errors or {}),
            "history": history,
            "ends_on": when_text(member.consent.ends_at, patient) if member.consent else "",
        }
        return form_page(request, "family/member.html", context, status_code=status_code, **extra)

    @get("/{link_id:int}", name="family:member")
    async def member(self, request: Request, db_session: DbSession, link_id: int) -> Template:
        return await self._member_page(request, db_session, link_id)

    @post("/{link_id:int}/consent", name="family:consent")
    async def consent(self, request: Request, db_session: DbSession, link_id: int) -> Response[Any] | Template:
        patient: User = request.user
        link, person = await service.member_or_404(db_session, pk(patient), link_id)
        raw = await form_values(request, list_fields=("categories",))
        spec = await _consent_spec(db_session, patient, person, link)
        checked = validate_consent_form(raw, spec, patient)
        if checked.errors or checked.choice is None:
            return await self._member_page(
                request, db_session, link_id, 422, values=checked.values, errors=checked.errors
            )
        with in_locale(patient.locale):
            await sign_consent(
                db_session,
                patient=patient,
                recipient=person,
                recipient_kind="family",
                purpose=spec.terms.purpose,
                locale=patient.locale,
                **checked.choice.sign_kwargs(),
            )
        await service.save_kinds(db_session, link, checked.choice.categories)
        return redirect_to(request, "family:member", "?notice=signed", link_id=link_id)

    @post("/{link_id:int}/stop", name="family:stop")
    async def stop(self, request: Request, db_session: DbSession, link_id: int) -> Response[Any]:
        link, _person = await service.member_or_404(db_session, request.user.id, link_id)
        await service.stop_sharing(db_session, request.user, link)
        return redirect_to(request, "family:member", "?notice=stopped", link_id=link_id)

    @post("/{link_id:int}/pause", name="family:pause")
    async def pause(self, request: Request, db_session: DbSession, link_id: int) -> Response[Any] | Template:
        link, _person = await service.member_or_404(db_session, request.user.id, link_id)
        result = await read_form(request, PauseForm)
        if not result.ok or result.data is None:
            return await self._member_page(request, db_session, link_id, 422, pause_errors=result.errors)
        await service.set_paused(db_session, link, result.data.paused)
        notice = "paused" if result.data.paused else "resumed"
        return redirect_to(request, "family:member", f"?notice={notice}", link_id=link_id)

    @post("/{link_id:int}/remove", name="family:remove")
    async def remove(self, request: Request, db_session: DbSession, link_id: int) -> Response[Any] | Template:
        link, _person = await service.member_or_404(db_session, request.user.id, link_id)
        result = await read_form(request, RemoveForm)
        if not result.ok:
            return await self._member_page(request, db_session, link_id, 422, remove_errors=result.errors)
        await service.remove_member(db_session, request.user, link)
        return redirect_to(request, "family:circle", "?notice=removed")


# -- the family member's side ------------------------------------------------------------------------------------


class FamilyController(Controller):
    path = "/family"
    guards = [family_only]

    @get("/", name="family:feed")
    async def feed(self, request: Request, db_session: DbSession) -> Template:
        member: User = request.user
        items = await service.feed(db_session, member)
        return render(
            request,
            "family/feed.html",
            {
                "people": await service.supported(db_session, member),
                "items": [(item, when_text(item.at, member)) for item in items],
                "section": "feed",
            },
        )

    @get("/about", name="family:about")
    async def about(self, request: Request, db_session: DbSession) -> Template:
        return render(
            request,
            "family/about.html",
            {
                "programs": await service.program_info(db_session, request.user),
                "section": "about",
            },
        )

    async def _encourage_page(
        self, request: Request, db: AsyncSession, status_code: int = 200, **extra: Any
    ) -> Template:
        member: User = request.user
        assert member.id is not None
        people = await encouragement.linked_patients(db, member.id)
        reachable = [p for p in people if await encouragement.receives_encouragement(db, pk(p))]
        sent = [
            (name, text, when_text(at, member)) for name, text, at in await encouragement.sent_recently(db, member.id)
        ]
        context: dict[str, Any] = {
            "people": people,
            "reachable": reachable,
            "presets": encouragement.preset_messages(),
            "values": {"idempotency_key": encouragement.new_key()},
            "sent": sent,
            "message_max": MESSAGE_MAX,
            "section": "encourage",
        }
        return form_page(request, "family/encourage.html", context, status_code=status_code, **extra)

    @get("/encourage", name="family:encourage_page")
    async def encourage_page(self, request: Request, db_session: DbSession) -> Template:
        return await self._encourage_page(request, db_session)

    @post("/encourage", name="family:encourage")
    async def encourage(self, request: Request, db_session: DbSession) -> Response[Any] | Template:
        member: User = request.user
        assert member.id is not None
        result = await read_form(request, EncourageForm)
        errors = dict(result.errors)
        people = await encouragement.linked_patients(db_session, member.id)
        form = result.data
        patient: User | None = None
        if form is not None:
            if form.patient_id is None and len(people) == 1:
                patient = people[0]
            else:
                patient = next((p for p in people if p.id == form.patient_id), None)
            if patient is None:
                errors["patient_id"] = _("Please choose who the message is for.")
            if not form.chosen_text():
                errors["message"] = _("Please pick a message or write your own.")
        if not errors and form is not None and patient is not None:
            sent = await encouragement.send(db_session, member, patient, form.chosen_text(), form.idempotency_key)
            if not sent.error:
                return redirect_to(request, "family:encourage_page", "?notice=sent")
            errors["__all__"] = sent.error
        values = {**result.values}
        if not str(values.get("idempotency_key", "")).strip():
            values["idempotency_key"] = encouragement.new_key()
        return await self._encourage_page(request, db_session, 422, values=values, errors=errors)

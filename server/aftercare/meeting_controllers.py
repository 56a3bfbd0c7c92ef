"""The meeting finder: the admin's feed import (a file or an https URL on allowed hosts) and the patient's search,
favourites and calendar."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.guards import admin_only, patient_only
from server.accounts.models import Clinic, User
from server.accounts.service import own_clinic
from server.aftercare import meetings as finder
from server.aftercare.fetch import clean_hosts, fetch_feed
from server.db import DbSession, pk
from server.i18n import gettext as _
from server.settings import AppSettings
from server.web.edge import CONTROL
from server.web.responses import is_htmx, redirect, redirect_to, render, url

HOSTS_KEY = "meeting_feed_hosts"


def feed_hosts(clinic: Clinic) -> list[str]:
    hosts = (clinic.settings or {}).get(HOSTS_KEY) or []
    return [h for h in hosts if isinstance(h, str)]


class MeetingAdminController(Controller):
    path = "/admin/meetings"
    guards = [admin_only]

    async def _page(
        self, request: Request, db: AsyncSession, clinic: Clinic, status_code: int = 200, **extra: Any
    ) -> Template:
        context: dict[str, Any] = {
            "count": await finder.meeting_count(db, pk(clinic)),
            "values": {"hosts": "\n".join(feed_hosts(clinic)), "url": ""},
            "errors": {},
            "notice": request.query_params.get("notice", ""),
            "report": None,
            "max_mb": finder.MAX_FEED_BYTES // (1024 * 1024),
        }
        context.update(extra)
        return render(request, "aftercare/admin_meetings.html", context, status_code=status_code)

    @get("/", name="aftercare:admin_meetings")
    async def page(self, request: Request, db_session: DbSession) -> Template:
        return await self._page(request, db_session, await own_clinic(db_session, request.user))

    @post("/hosts", name="aftercare:save_meeting_hosts")
    async def save_hosts(self, request: Request, db_session: DbSession) -> Response[Any]:
        clinic = await own_clinic(db_session, request.user)
        form = await request.form()
        text = str(form.get("hosts") or "")
        hosts: list[str] = []
        problem: str | None = None
        if len(text) > 5000 or CONTROL.search(text):
            problem = _("Please list host names, one per line.")
        else:
            hosts, problem = clean_hosts(text)
        if problem:
            values = {"hosts": text, "url": ""}
            return await self._page(request, db_session, clinic, 422, values=values, errors={"hosts": problem})
        clinic.settings = {**(clinic.settings or {}), HOSTS_KEY: hosts}
        db_session.add(clinic)
        return redirect_to(request, "aftercare:admin_meetings", "?notice=hosts")

    async def _import(
        self,
        request: Request,
        db: AsyncSession,
        clinic: Clinic,
        raw: bytes,
        remove: bool,
        field: str,
        values: dict[str, Any],
    ) -> Response[Any]:
        try:
            parsed = finder.parse_feed(raw)
        except finder.FeedError as exc:
            return await self._page(request, db, clinic, 422, values=values, errors={field: str(exc)})
        report = await finder.import_meetings(db, pk(clinic), parsed, remove_missing=remove)
        return await self._page(request, db, clinic, report=report, values=values)

    @post("/upload", name="aftercare:upload_meetings")
    async def upload(self, request: Request, db_session: DbSession) -> Response[Any]:
        clinic = await own_clinic(db_session, request.user)
        form = await request.form()
        values = {"hosts": "\n".join(feed_hosts(clinic)), "url": ""}
        upload = form.get("feed")
        if not isinstance(upload, UploadFile):
            return await self._page(request, db_session, clinic, 422, values=values,
                                    errors={"feed": _("Please choose a Meeting Guide JSON file.")})  # fmt: skip
        raw = await upload.read(finder.MAX_FEED_BYTES + 1)
        return await self._import(request, db_session, clinic, raw, form.get("remove_missing") == "yes", "feed", values)

    @post("/url", name="aftercare:meetings_from_url")
    async def from_url(self, request: Request, db_session: DbSession, settings: AppSettings) -> Response[Any]:
        clinic = await own_clinic(db_session, request.user)
        form = await request.form()
        url = str(form.get("url") or "").strip()
        values = {"hosts": "\n".join(feed_hosts(clinic)), "url": url}
        if not url or len(url) > 1000 or CONTROL.search(url):
            return await self._page(request, db_session, clinic, 422, values=values,
                                    errors={"url": _("Please enter the feed's https address.")})  # fmt: skip
        try:
            raw = await fetch_feed(url, feed_hosts(clinic), allow_loopback=settings.push_loopback_for_tests)
        except finder.FeedError as exc:
            return await self._page(request, db_session, clinic, 422, values=values, errors={"url": str(exc)})
        return await self._import(request, db_session, clinic, raw, form.get("remove_missing") == "yes", "url", values)


class MeetingFinderController(Controller):
    path = "/meetings"
    guards = [patient_only]

    async def _page(self, request: Request, db: AsyncSession, status_code: int = 200, **extra: Any) -> Template:
        user: User = request.user
        params = {k: v for k, v in request.query_params.items() if isinstance(v, str)}
        filters, errors = finder.parse_filters(params)
        found, more = await finder.search(db, user.clinic_id, filters)
        saved = await finder.favourites(db, pk(user))
        context: dict[str, Any] = {
            "filters": filters,
            "errors": errors,
            "meetings": found,
            "more": more,
            "saved": saved,
            "my_meetings": await finder.favourite_meetings(db, pk(user)),
            "regions": await finder.regions(db, user.clinic_id),
            "day_options": [(str(i), str(name)) for i, name in enumerate(finder.DAY_NAMES)],
            "time_options": [(key, str(label)) for key, (label, _s, _e) in finder.TIMES_OF_DAY.items()],
            "type_options": [(code, str(finder.TYPE_LABELS[code])) for code in finder.FILTER_TYPES],
            "day_names": finder.day_names,
            "type_labels": finder.type_labels,
            "notice": request.query_params.get("notice", ""),
            "back": url(request, "aftercare:meetings") + ("?" + filters.query() if filters.query() else ""),
        }
        context.update(extra)
        return render(request, "aftercare/meetings.html", context, status_code=422 if errors else status_code)

    @get("/", name="aftercare:meetings")
    async def meetings(self, request: Request, db_session: DbSession) -> Template:
        return await self._page(request, db_session)

    async def _toggle(self, request: Request, db: AsyncSession, meeting_id: int, what: str) -> Response[Any]:
        user: User = request.user
        if await finder.meeting_in_clinic(db, user.clinic_id, meeting_id) is None:
            raise NotFoundException()
        form = await request.form()
        on = form.get("on") == "yes"
        if what == "favourite":
            await finder.set_favourite(db, pk(user), meeting_id, on=on)
        else:
            await finder.set_in_calendar(db, pk(user), meeting_id, on=on)
        home = url(request, "aftercare:meetings")
        back = str(form.get("back") or home)
        if not back.startswith(home) or CONTROL.search(back) or "//" in back or len(back) > 600:
            back = home
        if is_htmx(request):
            return redirect(request, back)
        return redirect(request, f"{back}{'&' if '?' in back else '?'}notice={what}#meeting-{meeting_id}")

    @post("/{meeting_id:int}/favourite", name="aftercare:favourite_meeting")
    async def favourite(self, request: Request, db_session: DbSession, meeting_id: int) -> Response[Any]:
        return await self._toggle(request, db_session, meeting_id, "favourite")

    @post("/{meeting_id:int}/calendar", name="aftercare:meeting_calendar")
    async def calendar(self, request: Request, db_session: DbSession, meeting_id: int) -> Response[Any]:
        return await self._toggle(request, db_session, meeting_id, "calendar")

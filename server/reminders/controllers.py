"""The person's reminder page: their devices, a test notification, what to remind them of and quiet hours.

Routes (signed in):

* ``GET  /reminders``                          devices, "turn on on this phone", test button, settings
* ``POST /reminders/preferences``              save the choices and quiet hours (422 with inline errors)
* ``POST /reminders/test``                     queue a test notification to all my devices, sent right away
* ``POST /reminders/devices/{id:int}/delete``  remove one of my devices

The choices are built from the registered reminder kinds (`server.reminders.preferences`): a kind a role may
switch brings its own checkbox and options; nothing here names a kind but push's own "test".
"""

from __future__ import annotations

from datetime import time
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.guards import signed_in
from server.accounts.models import User
from server.db import DbSession, pk, utcnow
from server.i18n import gettext as _
from server.i18n import lazy_gettext as _l
from server.push import service
from server.reminders import preferences
from server.web.forms import form_values, validate
from server.web.responses import is_htmx, redirect_to, render

NOTICES = {
    "saved": _l("Your reminder settings are saved."),
    "test": _l("A test notification is on its way to your devices. It should arrive within a minute."),
    "removed": _l("That device won't get reminders any more."),
    "on": _l("Reminders are on for this device."),
    "off": _l("Reminders are off for this device."),
}
TEST_SPACING_SECONDS = 10


def _fmt(value: time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"


class RemindersController(Controller):
    path = "/reminders"
    guards = [signed_in]

    async def _page(
        self,
        request: Request,
        db: AsyncSession,
        status_code: int = 200,
        *,
        values: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None,
        test_error: str = "",
    ) -> Template:
        user: User = request.user
        kinds = preferences.kinds_for(user.role)
        if values is None:
            quiet = await service.get_preferences(db, pk(user))
            values = {
                **preferences.form_values(kinds, await preferences.choices(db, pk(user))),
                "quiet_start": _fmt(quiet.quiet_start),
                "quiet_end": _fmt(quiet.quiet_end),
            }
        notice = NOTICES.get(request.query_params.get("notice", ""))
        context = {
            "devices": await service.list_subscriptions(db, pk(user)),
            "kinds": kinds,
            "enabled_field": preferences.enabled_field,
            "option_field": preferences.option_field,
            "values": values,
            "errors": errors or {},
            "notice": str(notice) if notice else "",
            "test_error": test_error,
            "timezone": user.timezone.replace("_", " "),
        }
        return render(request, "push/reminders.html", context, status_code=status_code)

    @get("/", name="reminders:page")
    async def page(self, request: Request, db_session: DbSession) -> Template:
        return await self._page(request, db_session)

    @post("/preferences", name="reminders:save_preferences")
    async def save_preferences(self, request: Request, db_session: DbSession) -> Response[Any]:
        user: User = request.user
        kinds = preferences.kinds_for(user.role)
        raw = await form_values(request)
        model = preferences.form_model(kinds)
        # Only the fields this role sees are read (checkboxes left unticked mean "off"); the rest stay as stored.
        result = validate(model, {k: v for k, v in raw.items() if k in model.model_fields})
        if not result.ok or result.data is None:
            values = {k: v for k, v in raw.items() if k in model.model_fields}
            for kind in kinds:
                values[preferences.enabled_field(kind)] = bool(raw.get(preferences.enabled_field(kind)))
            return await self._page(request, db_session, 422, values=values, errors=result.errors)
        data = result.data.model_dump()
        await preferences.save_choices(db_session, pk(user), preferences.choices_from_form(kinds, data))
        await service.save_quiet_hours(db_session, pk(user), data["quiet_start"], data["quiet_end"])
        hooks = getattr(request.app.state, "push_hooks", None)
        if hooks is not None:
            # Re-plan this person now, so a new check-in time or lead time applies today, not in a minute.
            await hooks.plan(db_session, utcnow(), {user.id})
        return redirect_to(request, "reminders:page", "?notice=saved")

    @post("/test", name="reminders:send_test")
    async def send_test(self, request: Request, db_session: DbSession) -> Response[Any]:
        user: User = request.user
        if not await service.list_subscriptions(db_session, pk(user)):
            message = _("No device gets reminders yet. Turn on reminders on this phone first, then try again.")
            if is_htmx(request):
                return render(request, "push/_test_result.html", {"test_error": message}, status_code=422)
            return await self._page(request, db_session, 422, test_error=message)
        now = utcnow()
        # One test per few seconds, however often the button is pressed.
        bucket = int(now.timestamp()) // TEST_SPACING_SECONDS
        await service.enqueue_reminder(
            db_session,
            user_id=pk(user),
            kind="test",
            dedupe_key=f"test:{user.id}:{bucket}",
            title=_("Reminders are working"),
            body=_("This is the test you asked for. Steady's reminders will look like this."),
            url="/reminders",
            due_at=now,
            urgency="high",
        )
        await db_session.commit()
        dispatcher = getattr(request.app.state, "dispatcher", None)
        if dispatcher is not None:
            dispatcher.wake()
        if is_htmx(request):
            return render(request, "push/_test_result.html", {"test_notice": str(NOTICES["test"])})
        return redirect_to(request, "reminders:page", "?notice=test")

    @post("/devices/{subscription_id:int}/delete", name="reminders:remove_device")
    async def remove_device(self, request: Request, db_session: DbSession, subscription_id: int) -> Response[Any]:
        if not await service.remove_subscription(db_session, request.user.id, subscription_id):
            raise NotFoundException()
        return redirect_to(request, "reminders:page", "?notice=removed")

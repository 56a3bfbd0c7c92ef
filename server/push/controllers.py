"""This person's devices (JSON for static/js/push.js) and the admins' delivery counts.

Routes:

(The /reminders page, with devices, the test button and the settings, is `server.reminders.controllers`.)

* ``GET  /push/key``                           {"publicKey": …}: the VAPID key for PushManager.subscribe()
* ``POST /push/subscriptions``                 JSON {"subscription": PushSubscription.toJSON(), "device_label"}
* ``POST /push/subscriptions/status``          JSON {"endpoint"} → {"known": bool}: is this phone still listed?
* ``POST /push/subscriptions/renew``           JSON {"old_endpoint", "subscription"}: the browser replaced it
* ``POST /push/subscriptions/delete``          JSON {"endpoint"}: this phone turned reminders off
* ``GET  /admin/deliveries``                   counts by kind and outcome for the last 7 days (admins; no names)
"""

from __future__ import annotations

import re
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException, SerializationException
from litestar.response import Template
from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.guards import admin_only, signed_in
from server.accounts.models import User
from server.db import utcnow
from server.i18n import gettext as _
from server.i18n import lazy_gettext as _l
from server.push import service
from server.push.kinds import all_kinds, get_kind
from server.push.models import OUTCOMES
from server.push.vapid import VapidKeys, load_or_create_vapid_keys
from server.settings import Settings
from server.web.logging import get_logger
from server.web.responses import render

log = get_logger("push")

OUTCOME_LABELS = {
    "sent": _l("Delivered"),
    "retry": _l("Will retry"),
    "failed": _l("Failed"),
    "pruned": _l("Device gone (removed)"),
    "dropped": _l("Not sent (too late, switched off or no device)"),
}
_B64URL_RE = re.compile(r"^[A-Za-z0-9_\-]+={0,2}$")


@lru_cache(maxsize=8)
def _keys(data_dir: Path, private: str, public: str, subject: str) -> VapidKeys:
    env = {"VAPID_PRIVATE_KEY": private, "VAPID_PUBLIC_KEY": public, "VAPID_SUBJECT": subject}
    return load_or_create_vapid_keys(data_dir, {k: v for k, v in env.items() if v})


def vapid_keys(settings: Settings) -> VapidKeys:
    env = settings.env
    return _keys(
        settings.data_dir,
        env.get("VAPID_PRIVATE_KEY", ""),
        env.get("VAPID_PUBLIC_KEY", ""),
        env.get("VAPID_SUBJECT", ""),
    )


# -- forms ------------------------------------------------------------------------------------------------------


class SubscriptionKeys(BaseModel):
    p256dh: str = Field(min_length=20, max_length=200)
    auth: str = Field(min_length=8, max_length=100)

    @field_validator("p256dh", "auth")
    @classmethod
    def _b64(cls, value: str) -> str:
        if not _B64URL_RE.match(value):
            raise ValueError("not base64url")
        return value


class SubscriptionBody(BaseModel):
    endpoint: str = Field(min_length=10, max_length=1024)
    keys: SubscriptionKeys


class SubscribeRequest(BaseModel):
    subscription: SubscriptionBody
    device_label: str = Field(default="", max_length=200)


class UnsubscribeRequest(BaseModel):
    endpoint: str = Field(min_length=10, max_length=1024)


class RenewRequest(BaseModel):
    old_endpoint: str = Field(min_length=10, max_length=1024)
    old_auth: str = Field(min_length=8, max_length=100)  # the old subscription's auth secret: proof of holding it
    subscription: SubscriptionBody


def _json_error(message: str, status: int = 422) -> Response[dict[str, Any]]:
    return Response({"error": message}, status_code=status)


ModelT = TypeVar("ModelT", bound=BaseModel)


async def _read_json(request: Request, model: type[ModelT]) -> ModelT | None:
    """The body as `model`, or None for anything malformed (a 422 for the caller, never a 500)."""
    try:
        return model.model_validate(await request.json())
    except (ValidationError, SerializationException, ValueError, TypeError):
        return None


# -- pages ------------------------------------------------------------------------------------------------------


class PushApiController(Controller):
    """JSON for static/js/push.js. CSRF still applies: the page sends the token in x-csrftoken."""

    path = "/push"
    guards = [signed_in]
    include_in_schema = False

    @get("/key", name="push:key")
    async def key(self, settings: Settings) -> Response[dict[str, str]]:
        return Response({"publicKey": vapid_keys(settings).public_key}, headers={"Cache-Control": "no-cache"})

    @post("/subscriptions", name="push:subscribe")
    async def subscribe(
        self, request: Request, db_session: AsyncSession, settings: Settings
    ) -> Response[dict[str, Any]]:
        body = await _read_json(request, SubscribeRequest)
        if body is None:
            return _json_error(_("This browser sent a subscription we can't use. Please try again."))
        endpoint = body.subscription.endpoint
        problem = service.endpoint_problem(
            endpoint,
            allow_loopback=settings.push_loopback_for_tests,
            hosts=service.allowed_push_hosts(settings.env),
        )
        if problem:
            log.info("subscription refused: %s", problem)
            return _json_error(_("This browser's push service isn't one Steady can use."))
        label = body.device_label.strip() or _("My device")
        sub = await service.save_subscription(
            db_session,
            request.user.id,
            endpoint=endpoint,
            p256dh=body.subscription.keys.p256dh,
            auth=body.subscription.keys.auth,
            label=label,
        )
        hooks = getattr(request.app.state, "push_hooks", None)
        if hooks is not None:
            # Reminders are planned only for people with a device: plan this person's now.
            await hooks.plan(db_session, utcnow(), {request.user.id})
        return Response({"id": sub.id, "device_label": sub.device_label}, status_code=201)

    @post("/subscriptions/status", name="push:status")
    async def status(self, request: Request, db_session: AsyncSession) -> Response[dict[str, Any]]:
        """Whether this browser's subscription is still one of my devices (it may have been removed or pruned)."""
        body = await _read_json(request, UnsubscribeRequest)
        if body is None:
            return _json_error(_("Something was missing. Please try again."))
        known = await service.subscription_known(db_session, request.user.id, body.endpoint)
        return Response({"known": known}, status_code=200)

    @post("/subscriptions/renew", opt={"exclude_from_csrf": True}, name="push:renew")
    async def renew(
        self, request: Request, db_session: AsyncSession, settings: Settings
    ) -> Response[dict[str, Any]]:
        """The service worker's `pushsubscriptionchange`: the browser replaced a device's subscription.

        No CSRF token can reach a service worker, so this route goes without one. It is still safe: the session
        cookie is SameSite=Lax (never sent on another site's POST), and it only swaps the keys of a device this
        person already has, named by its old endpoint and proved by its old auth secret (which only this browser
        and Steady hold), and it never touches anyone else's device."""
        body = await _read_json(request, RenewRequest)
        if body is None:
            return _json_error(_("Something was missing. Please try again."))
        new = body.subscription
        problem = service.endpoint_problem(
            new.endpoint,
            allow_loopback=settings.push_loopback_for_tests,
            hosts=service.allowed_push_hosts(settings.env),
        )
        if problem:
            log.info("renewal refused: %s", problem)
            return _json_error(_("This browser's push service isn't one Steady can use."))
        renewed = await service.renew_subscription(
            db_session, request.user.id, body.old_endpoint, old_auth=body.old_auth,
            endpoint=new.endpoint, p256dh=new.keys.p256dh, auth=new.keys.auth,
        )  # fmt: skip
        if not renewed:
            raise NotFoundException()
        return Response({"renewed": True}, status_code=200)

    @post("/subscriptions/delete", name="push:unsubscribe")
    async def unsubscribe(self, request: Request, db_session: AsyncSession) -> Response[dict[str, Any]]:
        body = await _read_json(request, UnsubscribeRequest)
        if body is None:
            return _json_error(_("Something was missing. Please try again."))
        removed = await service.remove_endpoint(db_session, request.user.id, body.endpoint)
        return Response({"removed": removed}, status_code=200)


class DeliveriesAdminController(Controller):
    path = "/admin/deliveries"
    guards = [admin_only]

    @get("/", name="push:deliveries")
    async def deliveries(self, request: Request, db_session: AsyncSession) -> Template:
        admin: User = request.user
        since = utcnow() - timedelta(days=7)
        counts = await service.delivery_counts(db_session, admin.clinic_id, since)
        rows = [(str(get_kind(k).label), [counts[k][o] for o in OUTCOMES], sum(counts[k].values())) for k in counts]
        totals = [sum(counts[k][o] for k in counts) for o in OUTCOMES]
        return render(
            request,
            "push/deliveries.html",
            {
                "rows": rows,
                "outcomes": [str(OUTCOME_LABELS[o]) for o in OUTCOMES],
                "totals": totals,
                "grand_total": sum(totals),
                "kinds": tuple(k.name for k in all_kinds()),
            },
        )

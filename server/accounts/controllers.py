"""Routes for setup, sign-in, invitations and a person's own account."""

from __future__ import annotations

from typing import Any

import anyio
from litestar import Controller, Request, Response, get, post
from litestar.enums import MediaType
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.response import Template
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.accounts import invites as invite_logic
from server.accounts import service, sessions, throttle
from server.accounts.forms import (
    DeleteForm,
    InviteForm,
    JoinForm,
    LoginForm,
    PasswordForm,
    ProfileForm,
    SetupForm,
)
from server.accounts.guards import admin_only, signed_in, staff_only
from server.accounts.models import CareTeam, Role, User, UserSession
from server.db import DbSession, pk
from server.i18n import current_locale
from server.i18n import gettext as _
from server.localtime import COMMON_TIMEZONES, timezone_choices
from server.settings import AppSettings, Settings
from server.web.forms import NO_FORM, form_values, read_form
from server.web.replay import offline_owner
from server.web.responses import form_page, redirect, redirect_to, render, url


def _signed_in_response(request: Request, settings: Settings, token: str, user: User, target: str) -> Response[Any]:
    response = redirect(request, target)
    _idle, absolute = sessions.lifetimes(user.role, settings)
    response.set_cookie(
        key=sessions.cookie_name(settings),
        value=token,
        max_age=int(absolute.total_seconds()),
        path="/",
        httponly=True,
        secure=settings.https,
        samesite="lax",
    )
    # A new session gets a new CSRF token: whatever token the browser held before signing in (perhaps planted)
    # stops working, and the next page sets a fresh one.
    response.delete_cookie(sessions.csrf_cookie_name(settings), path="/")
    return response


async def _replace_session(
    request: Request, db: AsyncSession, settings: Settings, user: User, target: str
) -> Response[Any]:
    """Kill whatever session the browser had and mint a new one (no session fixation)."""
    old: UserSession | None = request.scope.get("auth")
    if old is not None:
        await sessions.end_session(db, old.id)
    token = await sessions.start_session(db, user, settings, request.headers.get("user-agent", "")[:120])
    return _signed_in_response(request, settings, token, user, target)


class AuthController(Controller):
    @get("/", name="accounts:root")
    async def root(self, request: Request, db_session: DbSession) -> Response[Any]:
        user: User | None = request.scope.get("user")
        if user is not None:
            return redirect_to(request, service.ROLE_HOME[user.role])
        if await service.needs_setup(db_session):
            return redirect_to(request, "accounts:setup_page")
        return redirect_to(request, "accounts:login_page")

    @get("/setup", name="accounts:setup_page")
    async def setup_page(self, request: Request, db_session: DbSession) -> Template:
        if not await service.needs_setup(db_session):
            raise NotFoundException()
        return render(
            request,
            "accounts/setup.html",
            {"values": {"timezone": service.FALLBACK_TIMEZONE}, "errors": {}, "timezones": COMMON_TIMEZONES},
        )

    @post("/setup", name="accounts:setup_submit")
    async def setup_submit(self, request: Request, db_session: DbSession, settings: AppSettings) -> Response[Any]:
        if not await service.needs_setup(db_session):
            raise NotFoundException()
        result = await read_form(request, SetupForm)
        if not result.ok:
            return render(
                request,
                "accounts/setup.html",
                {
                    "values": result.values,
                    "errors": result.errors,
                    "timezones": timezone_choices(str(result.values.get("timezone", ""))),
                },
                status_code=422,
            )
        form = result.data
        assert form is not None
        user = await service.create_first_admin(
            db_session,
            clinic_name=form.clinic_name,
            timezone=form.timezone,
            name=form.name,
            email=form.email,
            password=form.password,
        )
        if user is None:
            raise NotFoundException()
        return await _replace_session(request, db_session, settings, user, url(request, "accounts:people"))

    @get("/login", name="accounts:login_page")
    async def login_page(self, request: Request, next: str = "") -> Template:
        return render(request, "accounts/login.html", {"values": {"next": next}, "errors": {}})

    @post("/login", name="accounts:login_submit")
    async def login_submit(self, request: Request, db_session: DbSession, settings: AppSettings) -> Response[Any]:
        result = await read_form(request, LoginForm)
        values = {**result.values, "password": ""}
        if not result.ok or result.data is None:
            return render(request, "accounts/login.html", {"values": values, "errors": result.errors}, status_code=422)
        form = result.data
        address = request.client.host if request.client else "unknown"
        decision = await throttle.decide(db_session, settings, form.email, address)
        if decision.wait_minutes:
            message = _("Too many tries. For your safety, please try again in %(n)d minutes.") % {
                "n": decision.wait_minutes
            }
            return render(
                request, "accounts/login.html", {"values": values, "errors": {"__all__": message}}, status_code=429
            )
        if decision.delay_seconds:
            await anyio.sleep(decision.delay_seconds)  # many failures from elsewhere: slower, never locked out
        user = await service.authenticate(db_session, form.email, form.password)
        if user is None:
            await throttle.record_failure(db_session, form.email, address)
            await db_session.commit()
            return render(
                request,
                "accounts/login.html",
                {"values": values, "errors": {"__all__": _("Wrong email or password.")}},
                status_code=422,
            )
        await throttle.clear_failures(db_session, form.email, address)
        target = service.safe_next(form.next, url(request, service.ROLE_HOME[user.role]))
        return await _replace_session(request, db_session, settings, user, target)

    @post("/logout", name="accounts:logout")
    async def logout(self, request: Request, db_session: DbSession, settings: AppSettings) -> Response[Any]:
        current: UserSession | None = request.scope.get("auth")
        if current is not None:
            await sessions.end_session(db_session, current.id)
        response = redirect_to(request, "accounts:login_page", "?signed_out=1")
        response.delete_cookie(sessions.cookie_name(settings), path="/")
        # Wipe what this browser kept for the person: cached pages always; the offline queue (site storage) only
        # when the page said it holds nothing unsent, or the person chose to delete what it held. Otherwise the
        # entries stay, keyed to this account: nobody else who signs in on the phone sees or sends them.
        queue = (await form_values(request)).get("queue")
        wipe = '"cache", "storage"' if queue in ("empty", "discarded") else '"cache"'
        response.headers["Clear-Site-Data"] = wipe
        return response

    @get("/session/offline", media_type=MediaType.JSON, name="accounts:offline_session", opt=NO_FORM)
    async def offline_session(self, request: Request, settings: AppSettings) -> Response[Any]:
        """For the offline queue: who is signed in (as an opaque owner name) and the CSRF token the browser holds
        now, so entries saved days ago are never sent with a stale token or under another person's session. None
        without the cookie: the next page sets one (this answer never does, `NO_FORM`), and entries wait till then."""
        user: User | None = request.scope.get("user")
        body = {
            "signed_in": user is not None,
            "owner": offline_owner(settings.secret_key, user.id if user else None),
            "csrf": request.cookies.get(sessions.csrf_cookie_name(settings)),
        }
        return Response(content=body, headers={"Cache-Control": "no-store"})

    @get("/join", name="accounts:join_page")
    async def join_page(self, request: Request, db_session: DbSession, code: str = "") -> Template:
        invite = await invite_logic.find_usable_invite(db_session, code[:64]) if code else None
        zone = await service.join_timezone(db_session, invite.clinic_id if invite else None)
        return render(
            request,
            "accounts/join.html",
            {"values": {"code": code, "timezone": zone}, "errors": {}, "timezones": timezone_choices(zone)},
        )

    @post("/join", name="accounts:join_submit")
    async def join_submit(self, request: Request, db_session: DbSession, settings: AppSettings) -> Response[Any]:
        result = await read_form(request, JoinForm)
        errors = dict(result.errors)
        invite = None
        address = request.client.host if request.client else "unknown"
        wait = await throttle.join_minutes_locked(db_session, settings, address)
        if wait:
            errors["__all__"] = _("Too many tries. For your safety, please try again in %(n)d minutes.") % {"n": wait}
            values = {**result.values, "password": ""}
            zones = timezone_choices(str(values.get("timezone", "")))
            context = {"values": values, "errors": errors, "timezones": zones}
            return render(request, "accounts/join.html", context, status_code=429)
        if "code" not in errors:
            invite = await invite_logic.find_usable_invite(db_session, str(result.values.get("code", "")))
            if invite is None:
                await throttle.record_join_failure(db_session, address)
                await db_session.commit()
                errors["code"] = _(
                    "This invite code isn't valid any more. It may have expired or been used. Please ask for a new one."
                )
        user: User | str | None = None
        if not errors and invite is not None and result.data is not None:
            form = result.data
            user = await service.sign_up(
                db_session,
                invite,
                service.SignUp(
                    name=form.name,
                    email=form.email,
                    password=form.password,
                    timezone=form.timezone,
                    locale=current_locale.get(),
                ),
            )
            if isinstance(user, str):
                errors["email"] = user
        if errors or not isinstance(user, User):
            values = {**result.values, "password": ""}
            return render(
                request,
                "accounts/join.html",
                {"values": values, "errors": errors, "timezones": timezone_choices(str(values.get("timezone", "")))},
                status_code=422,
            )
        return await _replace_session(request, db_session, settings, user, url(request, service.ROLE_HOME[user.role]))


class AccountController(Controller):
    path = "/account"
    guards = [signed_in]

    async def _page(self, request: Request, db: AsyncSession, status_code: int = 200, **extra: Any) -> Template:
        user: User = request.user
        current: UserSession = request.auth
        context: dict[str, Any] = {
            "devices": await sessions.list_sessions(db, pk(user)),
            "current_session_id": current.id,
            "timezones": timezone_choices(user.timezone),
            "profile": {
                "name": user.display_name,
                "timezone": user.timezone,
                "locale": user.locale,
                "phone": user.phone,
            },
        }
        return form_page(request, "accounts/account.html", context, status_code=status_code, **extra)

    @get("/", name="accounts:account")
    async def account(self, request: Request, db_session: DbSession) -> Template:
        return await self._page(request, db_session)

    @post("/profile", name="accounts:profile")
    async def profile(self, request: Request, db_session: DbSession) -> Response[Any]:
        result = await read_form(request, ProfileForm)
        if not result.ok or result.data is None:
            return await self._page(request, db_session, 422, profile=result.values, errors=result.errors)
        user: User = request.user
        user.display_name = result.data.name
        user.timezone = result.data.timezone
        user.locale = result.data.locale
        user.phone = result.data.phone
        db_session.add(user)
        return redirect_to(request, "accounts:account", "?notice=profile")

    @post("/password", name="accounts:password")
    async def password(self, request: Request, db_session: DbSession, settings: AppSettings) -> Response[Any]:
        result = await read_form(request, PasswordForm)
        user: User = request.user
        errors = dict(result.errors)
        if result.data is not None and not await service.change_password(
            db_session, user, result.data.current_password, result.data.new_password
        ):
            errors["current_password"] = _("That isn't your current password.")
        if errors:
            return await self._page(request, db_session, 422, errors=errors)
        # A new password is a privilege change: every other device signs out, this one gets a new id.
        await sessions.end_other_sessions(db_session, pk(user), None)
        back = url(request, "accounts:account", "?notice=password")
        return await _replace_session(request, db_session, settings, user, back)

    @post("/devices/sign-out-others", name="accounts:sign_out_others")
    async def sign_out_others(self, request: Request, db_session: DbSession) -> Response[Any]:
        await sessions.end_other_sessions(db_session, request.user.id, request.auth.id)
        return redirect_to(request, "accounts:account", "?notice=devices")

    @post("/delete", name="accounts:delete")
    async def delete(self, request: Request, db_session: DbSession, settings: AppSettings) -> Response[Any]:
        result = await read_form(request, DeleteForm)
        user: User = request.user
        errors = dict(result.errors)
        if result.data is not None:
            ok, _unused = service.verify_password(result.data.password, user.password_hash)
            if not ok:
                errors["password"] = _("That isn't your password.")
        if not errors and user.role is Role.ADMIN and await service.admins_left(db_session, user.clinic_id) <= 1:
            errors["confirm"] = _("You are the clinic's only admin. Invite another admin before you leave.")
        if errors:
            return await self._page(request, db_session, 422, errors=errors, delete_values=result.values)
        await service.delete_account(db_session, user)
        response = redirect_to(request, "accounts:login_page", "?deleted=1")
        response.delete_cookie(sessions.cookie_name(settings), path="/")
        response.headers["Clear-Site-Data"] = '"cache", "storage"'
        return response


class InviteController(Controller):
    """Staff invite therapists and patients here; patients invite family from their family page."""

    path = "/invites"
    guards = [staff_only]

    async def _page(self, request: Request, db: AsyncSession, status_code: int = 200, **extra: Any) -> Template:
        user: User = request.user
        context: dict[str, Any] = {
            "invites": await invite_logic.invites_made_by(db, user),
            "roles": sorted(r.value for r in invite_logic.MAY_INVITE[user.role]),
            "errors": {},
            "values": {},
            "new_code": None,
        }
        context.update(extra)
        return render(
            request,
            "accounts/invites.html",
            context,
            partial="accounts/_invite_result.html" if extra.get("new_code") else None,
            status_code=status_code,
        )

    @get("/", name="accounts:invites")
    async def invites(self, request: Request, db_session: DbSession) -> Template:
        return await self._page(request, db_session)

    @post("/", name="accounts:create")
    async def create(self, request: Request, db_session: DbSession, settings: AppSettings) -> Template:
        result = await read_form(request, InviteForm)
        user: User = request.user
        if not result.ok or result.data is None:
            return await self._page(request, db_session, 422, errors=result.errors, values=result.values)
        role = Role(result.data.role)
        if role not in invite_logic.MAY_INVITE[user.role]:
            raise PermissionDeniedException()
        invite, code = await invite_logic.create_invite(
            db_session, user, role, valid_hours=settings.invite_valid_hours, note=result.data.note
        )
        link = f"{settings.base_url}/join?code={code}"
        return await self._page(request, db_session, 201, new_code=code, new_link=link, new_invite=invite)


class AdminController(Controller):
    path = "/admin"
    guards = [admin_only]

    @get("/", name="accounts:people")
    async def people(self, request: Request, db_session: DbSession) -> Template:
        admin: User = request.user
        people = list(
            await db_session.scalars(
                select(User)
                .where(col(User.clinic_id) == admin.clinic_id)
                .order_by(col(User.role), col(User.display_name))
            )
        )
        care = list(await db_session.scalars(select(CareTeam)))
        names = {p.id: p.display_name for p in people}
        therapists_of: dict[int, list[str]] = {}
        for link in care:
            therapists_of.setdefault(link.patient_id, []).append(names.get(link.therapist_id, "?"))
        return render(request, "admin/people.html", {"people": people, "therapists_of": therapists_of})

"""Account use-cases: first-run setup, sign-in, sign-up through an invite, password change, deletion."""

from __future__ import annotations

from dataclasses import dataclass

from litestar.exceptions import NotFoundException
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.accounts.models import Clinic, Invite, Role, User
from server.accounts.passwords import dummy_hash, hash_password, verify_password
from server.i18n import gettext as _
from server.localtime import valid_timezone

FIRST_CLINIC_ID = 1
ROLE_HOME = {  # the route each role lands on (names: every route handler has one)
    Role.ADMIN: "accounts:people",
    Role.THERAPIST: "sharing:dashboard",
    Role.PATIENT: "today:today",
    Role.FAMILY: "family:feed",
}


async def own_clinic(db: AsyncSession, user: User) -> Clinic:
    """The clinic a staff member works for (their clinic's settings pages); 404 if it has gone."""
    clinic = await db.get(Clinic, user.clinic_id)
    if clinic is None:
        raise NotFoundException()
    return clinic


def normalise_email(email: str) -> str:
    return email.strip().lower()


def safe_next(target: str | None, fallback: str) -> str:
    """Only same-site paths: never let `next` bounce a person to another site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return fallback


FALLBACK_TIMEZONE = "America/New_York"


async def join_timezone(db: AsyncSession, invite_clinic_id: int | None) -> str:
    """The zone a new account starts in: its clinic's (the invite's, else the first clinic's), so a Chicago
    clinic's people see its 9:30 group at 9:30. The join page also offers the phone's own zone."""
    clinic = await db.get(Clinic, invite_clinic_id) if invite_clinic_id else None
    if clinic is None:
        clinic = await db.scalar(select(Clinic).order_by(col(Clinic.id)).limit(1))
    return clinic.timezone if clinic is not None and valid_timezone(clinic.timezone) else FALLBACK_TIMEZONE


async def needs_setup(db: AsyncSession) -> bool:
    return (await db.scalar(select(func.count()).select_from(User))) == 0


async def create_first_admin(
    db: AsyncSession, *, clinic_name: str, timezone: str, name: str, email: str, password: str
) -> User | None:
    """Create the clinic and its first admin; None if another request already did (fixed clinic id)."""
    if not await needs_setup(db):
        return None
    try:
        async with db.begin_nested():
            db.add(Clinic(id=FIRST_CLINIC_ID, name=clinic_name, timezone=timezone))
            await db.flush()
    except IntegrityError:
        return None
    user = User(
        clinic_id=FIRST_CLINIC_ID,
        email=normalise_email(email),
        display_name=name,
        role=Role.ADMIN,
        password_hash=hash_password(password),
        timezone=timezone,
    )
    db.add(user)
    await db.flush()
    return user


async def authenticate(db: AsyncSession, email: str, password: str) -> User | None:
    user = await db.scalar(select(User).where(col(User.email) == normalise_email(email)))
    if user is None:
        verify_password(password, dummy_hash())  # same work either way: no account enumeration by timing
        return None
    ok, new_hash = verify_password(password, user.password_hash)
    if not ok:
        return None
    if new_hash:
        user.password_hash = new_hash
    return user


@dataclass
class SignUp:
    name: str
    email: str
    password: str
    timezone: str
    # The language the browser asked for when the person joined (Accept-Language); they can change it later.
    locale: str = "en"


async def sign_up(db: AsyncSession, invite: Invite, form: SignUp) -> User | str:
    """Create the invited account, or return a message for the email field."""
    from server.accounts.invites import redeem_invite

    email = normalise_email(form.email)
    if await db.scalar(select(col(User.id)).where(col(User.email) == email)):
        return _("There is already an account with this email. Try signing in instead.")
    user = User(
        clinic_id=invite.clinic_id,
        email=email,
        display_name=form.name,
        role=invite.role,
        password_hash=hash_password(form.password),
        timezone=form.timezone,
        locale=form.locale,
    )
    db.add(user)
    await db.flush()
    if not await redeem_invite(db, invite, user):
        await db.rollback()
        return _("This invite has just been used. Please ask for a new one.")
    return user


async def change_password(db: AsyncSession, user: User, current: str, new: str) -> bool:
    ok, _new_hash = verify_password(current, user.password_hash)
    if not ok:
        return False
    user.password_hash = hash_password(new)
    db.add(user)
    return True


async def admins_left(db: AsyncSession, clinic_id: int) -> int:
    admins = select(func.count()).where(col(User.clinic_id) == clinic_id, col(User.role) == Role.ADMIN)
    return int(await db.scalar(admins) or 0)


async def delete_account(db: AsyncSession, user: User) -> None:
    """Delete the person; every row of theirs goes with them through ON DELETE CASCADE."""
    await db.delete(user)
    await db.flush()

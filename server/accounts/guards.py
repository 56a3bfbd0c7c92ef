"""Authorization in one place: every route names the roles it serves through these guards."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from server.accounts.models import Role, User

# Guards are coroutines: Litestar runs a plain function guard in a worker thread, a hand-off on every request.
Guard = Callable[[ASGIConnection, BaseRouteHandler], Awaitable[None]]


def current_user(connection: ASGIConnection) -> User | None:
    return connection.scope.get("user")


async def signed_in(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    if current_user(connection) is None:
        raise NotAuthorizedException()


def roles(*allowed: Role) -> Guard:
    """A guard that admits only the given roles (and sends strangers to sign in)."""

    async def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:
        user = current_user(connection)
        if user is None:
            raise NotAuthorizedException()
        if user.role not in allowed:
            raise PermissionDeniedException()

    guard.__name__ = "roles_" + "_".join(r.value for r in allowed)
    return guard


patient_only = roles(Role.PATIENT)
family_only = roles(Role.FAMILY)
staff_only = roles(Role.ADMIN, Role.THERAPIST)
therapist_only = roles(Role.THERAPIST)
admin_only = roles(Role.ADMIN)

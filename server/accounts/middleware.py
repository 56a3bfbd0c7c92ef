"""Resolve the session cookie to a user before any route runs (the guards then decide access)."""

from __future__ import annotations

from http.cookies import SimpleCookie

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.accounts.sessions import resolve_session
from server.i18n import current_locale


class SessionAuthMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    def __init__(self, session_maker: async_sessionmaker[AsyncSession], cookie_name: str) -> None:
        self.session_maker = session_maker
        self.cookie_name = cookie_name

    def _token(self, scope: Scope) -> str:
        for name, value in scope["headers"]:
            if name == b"cookie":
                cookie: SimpleCookie = SimpleCookie()
                try:
                    cookie.load(value.decode("latin-1"))
                except Exception:
                    return ""
                morsel = cookie.get(self.cookie_name)
                if morsel is not None:
                    return morsel.value
        return ""

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        scope["user"] = None
        scope["auth"] = None
        token = "" if scope["path"].startswith("/static/") else self._token(scope)
        if token:
            async with self.session_maker() as db:
                resolved = await resolve_session(db, token)
            if resolved is not None:
                scope["user"], scope["auth"] = resolved
                current_locale.set(resolved[0].locale or current_locale.get())
        await next_app(scope, receive, send)

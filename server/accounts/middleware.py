"""Resolve the session cookie to a user before any route runs (the guards then decide access).

The look-up runs on the request's own database session (the one route handlers get as `db_session`, which the
SQLAlchemy plugin commits and closes before the answer goes out), so a signed-in request checks out one pooled
connection, not two. The session row is read on every request: a sign-out or revocation counts at once."""

from __future__ import annotations

from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig
from advanced_alchemy.extensions.litestar._utils import get_aa_scope_state
from litestar._parsers import parse_cookie_string
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from server.accounts.sessions import resolve_session
from server.i18n import current_locale


class SessionAuthMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    def __init__(self, db_config: SQLAlchemyAsyncConfig, cookie_name: str) -> None:
        self.db_config = db_config
        self.cookie_name = cookie_name

    def _token(self, scope: Scope) -> str:
        for name, value in scope["headers"]:
            if name == b"cookie":
                # Litestar's parser, as its CSRF middleware and `request.cookies` use: remembered per cookie header
                # (a browser sends the same one request after request), where `SimpleCookie` parses it every time.
                token = parse_cookie_string(value.decode("latin-1")).get(self.cookie_name)
                if token is not None:
                    return token
        return ""

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        scope["user"] = None
        scope["auth"] = None
        token = "" if scope["path"].startswith("/static/") else self._token(scope)
        if not token:
            await next_app(scope, receive, send)
            return
        db = self.db_config.provide_session(scope["app"].state, scope)
        try:
            resolved = await resolve_session(db, token)
            if resolved is not None:
                # Detached (never in `db`), as if read on a session of their own: a rollback later in the request
                # (an error answer) must not expire them while the access log still reads them.
                scope["user"], scope["auth"] = resolved
                current_locale.set(resolved[0].locale or current_locale.get())
            await next_app(scope, receive, send)
        finally:
            # Normally closed by the plugin's before-send handler; not if no answer was ever sent.
            if get_aa_scope_state(scope, self.db_config.session_scope_key) is db:
                await db.close()

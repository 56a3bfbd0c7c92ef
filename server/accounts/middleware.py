"""Resolve the session cookie to a user before any route runs (the guards then decide access).

The look-up runs on the request's own database session (the one route handlers get as `db_session`, which the
SQLAlchemy plugin commits and closes before the answer goes out), so a signed-in request checks out one pooled
connection, not two. The session row is read on every request: a sign-out or revocation counts at once. A page view
(GET) reads it in its page's own statement when this process has seen the session before (`guess_session`); the
guess is confirmed before anything is sent or committed, and a wrong one runs the request again."""

from __future__ import annotations

from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig
from advanced_alchemy.extensions.litestar._utils import delete_aa_scope_state, get_aa_scope_state
from litestar._parsers import parse_cookie_string
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from litestar.utils.empty import Empty
from litestar.utils.scope.state import ScopeState
from sqlalchemy.ext.asyncio import AsyncSession

from server.accounts.sessions import SessionGuess, forget, guess_session, resolve_session
from server.db import close_session
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
            if scope.get("method") == "GET" and (guess := guess_session(db, token)) is not None:
                if await self._as_guessed(guess, db, scope, receive, send, next_app):
                    return
                # Nothing was sent or committed: start again from a fresh session, reading the session row first.
                forget(token)
                await db.close()
                delete_aa_scope_state(scope, self.db_config.session_scope_key)
                db = self.db_config.provide_session(scope["app"].state, scope)
                scope["user"] = scope["auth"] = None
                _as_if_new(scope)
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
                await close_session(db)

    @staticmethod
    async def _as_guessed(
        guess: SessionGuess, db: AsyncSession, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp
    ) -> bool:
        """Run the request as the guessed user; False when the guess turned out wrong (nothing was sent)."""
        user, session_row = guess.identity()
        scope["user"], scope["auth"] = user, session_row
        locale = current_locale.set(user.locale or current_locale.get())

        async def send_once_confirmed(message: Message) -> None:
            # Runs before the plugin's before-send handler commits. An answer built on a wrong guess (a page, a
            # guard's redirect, a 404 for someone else's row) is dropped; a page whose handler made no composed
            # read confirms the guess here, reading the session row on its own.
            if message["type"] == "http.response.start" and not guess.settled and not guess.wrong:
                await guess.confirm(db)
            if not guess.wrong:
                await send(message)

        await next_app(scope, receive, send_once_confirmed)
        if guess.wrong:
            current_locale.reset(locale)
            return False
        return True


def _as_if_new(scope: Scope) -> None:
    """Forget what Litestar noted of the dropped run (its answer started, compressed or cached), in the state object
    the layers around this middleware hold too. What it noted of the request itself (headers, cookies, the route's
    error handlers) still holds."""
    state = ScopeState.from_scope(scope)
    state.response_started = False
    state.response_compressed = state.do_cache = state.is_cached = Empty
    state.flash_messages = []

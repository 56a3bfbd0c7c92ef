"""Litestar's CSRF check (a token in the form or the `x-csrftoken` header that must match the CSRF cookie), with a
token bound to the sign-in session when a signed-in browser holds no CSRF cookie.

Why: the cookie lasts as long as the browser is open, the sign-in for weeks. After a browser restart, the first page
and the service worker's replay of entries saved offline (`/session/offline`) go out together, both without the
cookie. With a random token each, whichever answer came last would set its own, and the page's forms would be
refused as expired (what the person typed lost with them). A token derived from the session cookie is the same for
every such request. It is as secret as the session cookie it comes from (an HMAC with the app's secret), ends with
that session, and a sign-in, which starts a new session and deletes the CSRF cookie, gives a new one.
"""

from __future__ import annotations

import hashlib
import hmac

from litestar._parsers import parse_cookie_string
from litestar.config.csrf import CSRFConfig
from litestar.enums import ScopeType
from litestar.middleware.csrf import CSRFMiddleware, generate_csrf_hash
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from litestar.utils.empty import Empty
from litestar.utils.scope.state import ScopeState


def session_bound_token(secret: str, session_token: str) -> str:
    """A CSRF token in Litestar's form (64 hex characters, then their HMAC), derived from the session cookie."""
    derived = hmac.new(secret.encode(), b"csrf\x00" + session_token.encode(), hashlib.sha256).hexdigest()
    return derived + generate_csrf_hash(token=derived, secret=secret)


def _cookies(scope: Scope) -> dict[str, str]:
    """The request's cookies, parsed once and kept in the scope, where Litestar's `Request.cookies` (the check's)
    looks first."""
    state = ScopeState.from_scope(scope)
    if (cookies := state.cookies) is Empty:
        header = next((value for name, value in scope["headers"] if name == b"cookie"), b"")
        cookies = state.cookies = parse_cookie_string(header.decode("latin-1")) if header else {}
    return cookies


class SessionBoundCSRFMiddleware(CSRFMiddleware):
    def __init__(self, app: ASGIApp, config: CSRFConfig, session_cookie: str) -> None:
        super().__init__(app, config)
        self.session_cookie = session_cookie

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            cookies = _cookies(scope)
            session_token = cookies.get(self.session_cookie)
            if session_token and self.config.cookie_name not in cookies:
                token = session_bound_token(self.config.secret, session_token)
                # The check reads the cookies kept in the scope: it now sees this token as the browser's cookie
                # (a POST's form must carry it) and sets no cookie of its own; the answer sets this one.
                ScopeState.from_scope(scope).cookies = {**cookies, self.config.cookie_name: token}
                await super().__call__(scope, receive, self._setting(send, token))
                return
        await super().__call__(scope, receive, send)

    def _setting(self, send: Send, token: str) -> Send:
        name = self.config.cookie_name.encode("latin-1") + b"="

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                # Not over the answer's own (a sign-in deletes the cookie, to start the new session with a new token).
                if not any(key.lower() == b"set-cookie" and value.startswith(name) for key, value in headers):
                    self._set_cookie_if_needed(message=message, token=token)
            await send(message)

        return send_with_cookie

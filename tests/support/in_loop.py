"""Litestar's test transport with fewer crossings between threads.

Litestar's test clients run the app on a portal thread of their own: every request crosses to that thread and back
twice (once to make an Event, once to call the app). `in_loop_client` runs the app in the caller's own event loop, for
tests that send thousands of requests from a coroutine (the route fuzzer: the crossings cost it about as much CPU as
the app's own work); `cross_once` makes a sync TestClient cross once per request. Both build the same ASGI scope as
Litestar's transport (its `parse_request`, `create_receive` and `create_send`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from io import BytesIO
from typing import Any

import anyio
import httpx
from litestar import Litestar
from litestar.testing import TestClient
from litestar.testing.transport import SendReceiveContext, TestClientTransport


class _InLoopTransport(TestClientTransport[Any], httpx.AsyncBaseTransport):
    def __init__(self, app: Litestar) -> None:
        super().__init__(client=None)
        self.app = app

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        scope = self.parse_request(request=request)
        scope.update(method=request.method, http_version="1.1", extensions={"http.response.template": {}})
        raw_kwargs: dict[str, Any] = {"stream": BytesIO()}
        context: SendReceiveContext = {
            "response_complete": anyio.Event(),
            "request_complete": False,
            "raw_kwargs": raw_kwargs,
            "response_started": False,
            "template": None,
            "context": None,
        }
        await self.app(scope, self.create_receive(request, context), self.create_send(request, context))  # type: ignore[arg-type]
        assert context["response_started"], "the app sent no response"
        body = raw_kwargs.pop("stream").getvalue()
        return httpx.Response(**raw_kwargs, stream=httpx.ByteStream(body), request=request)


class _PortalTransport(httpx.BaseTransport):
    def __init__(self, client: TestClient[Any]) -> None:
        self.client = client
        self.exchange = _InLoopTransport(client.app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.client.blocking_portal.call(self.exchange.handle_async_request, request)


def cross_once(client: TestClient[Any]) -> TestClient[Any]:
    """The entered `client` with each request made in one call to its portal thread (the whole exchange as one
    coroutine there, the app's lifespan staying where the client started it): about 0.1 ms of CPU less per request."""
    client._transport = _PortalTransport(client)  # httpx's one transport for every URL (the client mounts no other)
    return client


@asynccontextmanager
async def in_loop_client(app: Litestar, base_url: str = "http://127.0.0.1:8000") -> AsyncIterator[httpx.AsyncClient]:
    """The app's lifespan and an httpx client on it, both in the running loop (headers as Litestar's test client's)."""
    transport = _InLoopTransport(app)
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=transport, base_url=base_url, headers={"user-agent": "testclient"}) as client,
    ):
        yield client

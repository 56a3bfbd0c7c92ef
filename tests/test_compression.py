"""Responses are gzipped with ISA-L (server/web/compression.py) by Litestar's rules: only for a client that accepts
gzip, only from the minimum size, and a streamed body (a static file) as it streams. What the client unzips with the
standard library is exactly what it would have got without compression."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from typing import Any

from litestar.testing import TestClient

from server.app import compression_config
from server.web.compression import IsalGzipMiddleware
from server.web.static import static_path, static_url

GZIP = {"accept-encoding": "gzip"}
IDENTITY = {"accept-encoding": "identity"}


def _raw(client: TestClient, path: str, headers: dict[str, str]) -> tuple[dict[str, str], bytes]:
    """The response's headers and its body as sent (not unzipped by the client)."""
    with client.stream("GET", path, headers=headers) as response:
        assert response.status_code == 200
        return dict(response.headers), b"".join(response.iter_raw())


def test_a_page_is_gzipped_whole_with_its_compressed_length(client: TestClient) -> None:
    client.get("/login")  # the CSRF cookie, so both views below render the same form token
    headers, body = _raw(client, "/login", GZIP)
    plain_headers, plain = _raw(client, "/login", IDENTITY)
    assert headers["content-encoding"] == "gzip"
    assert "accept-encoding" in headers["vary"].lower()
    assert int(headers["content-length"]) == len(body) < len(plain)
    assert gzip.decompress(body) == plain
    assert "content-encoding" not in plain_headers
    assert int(plain_headers["content-length"]) == len(plain)


def test_a_static_file_is_gzipped(client: TestClient) -> None:
    headers, body = _raw(client, static_url("css/app.css"), GZIP)
    assert headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == static_path("css/app.css").read_bytes()


def test_a_streamed_body_is_gzipped_part_by_part() -> None:
    """Each part is sent compressed as it comes (the client can unzip it at once), the gzip trailer after the last.
    Steady streams nothing today: the middleware, with Steady's config, in front of an app that does."""
    parts = [b"first part " * 100, b"second part " * 100, b"end"]

    async def streaming_app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for index, part in enumerate(parts):
            await send({"type": "http.response.body", "body": part, "more_body": index < len(parts) - 1})

    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    config = compression_config()
    scope = {"type": "http", "method": "GET", "path": "/", "headers": [(b"accept-encoding", b"gzip")], "state": {}}
    asyncio.run(IsalGzipMiddleware(app=streaming_app, config=config)(scope, receive, send))
    start, *bodies = sent
    headers = dict(start["headers"])
    assert headers[b"content-encoding"] == b"gzip" and b"content-length" not in headers
    unzip = zlib.decompressobj(16 + zlib.MAX_WBITS)
    assert [unzip.decompress(body["body"]) for body in bodies] == parts  # each readable as it arrives
    assert unzip.eof and [body["more_body"] for body in bodies] == [True, True, False]


def test_a_small_answer_is_sent_as_it_is(client: TestClient) -> None:
    headers, body = _raw(client, static_url("icons/favicon.svg"), GZIP)
    assert body == static_path("icons/favicon.svg").read_bytes()
    assert len(body) < 500
    assert "content-encoding" not in headers

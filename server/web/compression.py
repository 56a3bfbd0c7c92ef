"""Gzip with ISA-L (the `isal` package) instead of the standard library's zlib.

Litestar's compression middleware always gzips with `gzip.GzipFile`. ISA-L's deflate at its level 1 makes output
as small as zlib's level 3 on a page (Today's 9.7 KB: 3.0 KB against 3.1) in a fifth of the time (~25 against
~130 µs, a twelfth of Today's CPU), and the therapist dashboard's 247 KB in ~0.2 ms against ~1.4 (33 against 29 KB).
Every other rule is Litestar's, from `CompressionConfig`: the minimum size, the excluded paths, gzip only when the
client accepts it, and a streamed body (a static file) compressed as it streams.
"""

from __future__ import annotations

from typing import Any

from isal import isal_zlib
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import CompressionEncoding
from litestar.middleware.compression import CompressionMiddleware
from litestar.types import HTTPResponseStartEvent, Message, Scope, Send
from litestar.utils.scope.state import ScopeState

# ISA-L's levels run 0-3; 1 is its fast one (3 costs as much as zlib's 3 for ~4% less).
LEVEL = 1
_GZIP_CONTAINER = 16 + isal_zlib.MAX_WBITS  # wbits for a gzip header and trailer, as Content-Encoding: gzip wants


class IsalGzipMiddleware(CompressionMiddleware):
    """`CompressionMiddleware` whose gzip is ISA-L's (set as `CompressionConfig.middleware_class`)."""

    def create_compression_send_wrapper(self, send: Send, compression_encoding: Any, scope: Scope) -> Send:
        if compression_encoding != CompressionEncoding.GZIP:
            return super().create_compression_send_wrapper(send, compression_encoding, scope)
        compressor: Any = None  # made for a body worth compressing
        minimum_size = self.config.minimum_size
        start: HTTPResponseStartEvent | None = None
        streaming = False

        async def send_wrapper(message: Message) -> None:
            nonlocal start, streaming, compressor
            if message["type"] == "http.response.start":
                start = message  # sent with the first part of the body, once its headers are known
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            body = message.get("body", b"")
            more_body = message.get("more_body", False)
            if streaming or start is None:
                message["body"] = _part(compressor, body, more_body) if streaming else body
                await send(message)
                return
            head, start = start, None
            if not more_body and len(body) < minimum_size:
                await send(head)
                await send(message)
                return
            headers = MutableScopeHeaders(head)
            headers["Content-Encoding"] = compression_encoding
            headers.extend_header_value("vary", "Accept-Encoding")
            ScopeState.from_scope(scope).response_compressed = True
            compressor = isal_zlib.compressobj(LEVEL, isal_zlib.DEFLATED, _GZIP_CONTAINER)
            streaming = more_body
            message["body"] = _part(compressor, body, more_body)
            if more_body:
                del headers["Content-Length"]
            else:
                headers["Content-Length"] = str(len(message["body"]))
            await send(head)
            await send(message)

        return send_wrapper


def _part(compressor: Any, body: bytes, more_body: bool) -> bytes:
    """A part of the body compressed: all of it out now (a streamed part reaches the client when sent, as with
    Litestar's gzip), and the gzip trailer after the last."""
    return compressor.compress(body) + compressor.flush(isal_zlib.Z_SYNC_FLUSH if more_body else isal_zlib.Z_FINISH)

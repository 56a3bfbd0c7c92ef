"""The installable-app parts: service worker, manifest and the offline page."""

from __future__ import annotations

import json

from litestar import Controller, Request, Response, get
from litestar.response import Template

from server.web.forms import NO_FORM
from server.web.responses import render
from server.web.static import read_static, shell_urls, shell_version


class PwaController(Controller):
    include_in_schema = False

    @get("/sw.js", media_type="application/javascript", name="web:service_worker", opt=NO_FORM)
    async def service_worker(self) -> Response[bytes]:
        # Served from the root so its scope is the whole app; the shell list and version are filled in here
        # so every deploy with a changed asset installs a fresh cache.
        source = read_static("sw.js").decode()
        source = source.replace("__SHELL_VERSION__", shell_version())
        source = source.replace("__SHELL_ASSETS__", json.dumps(shell_urls()))
        return Response(
            source.encode(),
            media_type="application/javascript",
            headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
        )

    @get("/manifest.webmanifest", name="web:manifest", opt=NO_FORM)
    async def manifest(self) -> Response[bytes]:
        return Response(
            read_static("manifest.webmanifest"),
            media_type="application/manifest+json",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    @get("/offline", name="web:offline")
    async def offline(self, request: Request) -> Template:
        return render(request, "offline.html", {"public_page": True})

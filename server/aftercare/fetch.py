"""Fetching a Meeting Guide feed from a URL, under the same SSRF rules as push endpoints.

The URL must pass `server.push.service.endpoint_problem` (https, no user:password@, a host on the allow-list) with
the clinic admin's own list of feed hosts instead of the push services; only the test-only loopback setting admits
this machine. Redirects are not followed (a redirect could lead off the list), and the body is read only up to the
feed size limit.
"""

from __future__ import annotations

import re

import aiohttp

from server.aftercare.meetings import MAX_FEED_BYTES, FeedError, too_big
from server.i18n import gettext as _
from server.push.service import LOOPBACK_HOSTS, endpoint_problem

TIMEOUT_SECONDS = 20
MAX_HOSTS = 20
_HOST = re.compile(r"^\.?(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$")
_IP = re.compile(r"^[\d.]+$|:")


def clean_hosts(text: str) -> tuple[list[str], str | None]:
    """The admin's allowed feed hosts, one per line ("example.org", or ".example.org" for every subdomain).

    Addresses and this machine are refused: a host name on the public internet is the point of the list."""
    hosts: list[str] = []
    for line in text.replace(",", "\n").splitlines():
        host = line.strip().lower()
        if not host:
            continue
        if _IP.search(host) or host.strip(".") in LOOPBACK_HOSTS or not _HOST.match(host):
            return [], _("\u201c%(host)s\u201d isn't a host name like meetings.example.org.") % {"host": host[:80]}
        hosts.append(host)
    if len(hosts) > MAX_HOSTS:
        return [], _("Please list at most %(n)d hosts.") % {"n": MAX_HOSTS}
    return list(dict.fromkeys(hosts)), None


async def fetch_feed(url: str, hosts: list[str], *, allow_loopback: bool) -> bytes:
    """The feed's bytes, or FeedError with a message for the admin (never the network's own words)."""
    if endpoint_problem(url, allow_loopback=allow_loopback, hosts=hosts) is not None:
        raise FeedError(_("Steady fetches feeds only over https from the hosts you allow below."))
    try:
        timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, allow_redirects=False, headers={"Accept": "application/json"}) as response,
        ):
            if response.status != 200:
                status = response.status
                raise FeedError(_("The feed's server answered %(status)d, not the feed.") % {"status": status})
            if (response.content_length or 0) > MAX_FEED_BYTES:
                raise FeedError(too_big())
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.content.iter_chunked(65536):
                size += len(chunk)
                if size > MAX_FEED_BYTES:
                    raise FeedError(too_big())  # without reading the rest
                chunks.append(chunk)
            body = b"".join(chunks)
    except (aiohttp.ClientError, TimeoutError, UnicodeError, ValueError) as exc:
        if isinstance(exc, FeedError):
            raise
        raise FeedError(_("Steady couldn't reach that address. Please check it and try again.")) from None
    return body

"""Skill-card figures: how much the offline copy of the skills library weighs, and how fast a card opens offline.

    .venv/bin/python bench/skills_bench.py               # both figures
    .venv/bin/python bench/skills_bench.py --no-browser  # sizes only

Size: everything the More page's offline switch stores for skills (the /skills library page, every card page,
static/js/skills.js), raw and gzip (what the server sends with Accept-Encoding: gzip); and the compact catalogue
JSON on its own.

Offline open: a real Chromium (Playwright) signs in, turns offline use on, goes offline and opens cards from the
service worker's cache; the figure is `performance.getEntriesByType('navigation')[0].duration`, the same number
tests/browser/test_skills_offline.py prints.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path

import httpx

from bench.foundation_bench import make_patient
from bench.server_process import percentile, running_server, sign_in

CHROMIUM = "/usr/bin/chromium"
EMAIL, PASSWORD = "bench@example.org", "a calm blue lake"


def cached_urls() -> list[str]:
    from server.skills.logic import offline_urls

    return offline_urls()


def measure(client: httpx.Client, url: str) -> tuple[int, int]:
    """(raw bytes, bytes on the wire with Accept-Encoding: gzip)."""
    with client.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as response:
        response.raise_for_status()
        body = response.read()
        return len(body), response.num_bytes_downloaded


def library_size(client: httpx.Client) -> tuple[int, int, dict[str, int]]:
    """(raw bytes, gzip bytes on the wire, raw bytes per kind) for every URL the offline switch stores."""
    raw = wire = 0
    kinds = {"library page": 0, "card pages": 0, "skills.js": 0}
    for url in cached_urls():
        size, sent = measure(client, url)
        raw += size
        wire += sent
        kind = "library page" if url == "/skills" else "skills.js" if url.startswith("/static/") else "card pages"
        kinds[kind] += size
    return raw, wire, kinds


def offline_open_times(base_url: str, card_ids: list[str], rounds: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    times: list[float] = []
    with sync_playwright() as playwright:
        profile = Path(__import__("tempfile").mkdtemp(prefix="steady-bench-chromium-"))
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
        )  # fmt: skip
        page = context.pages[0] if context.pages else context.new_page()
        page.goto(f"{base_url}/login")
        page.get_by_label("Email").fill(EMAIL)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state("load")
        page.wait_for_function("navigator.serviceWorker.controller !== null || location.reload()", timeout=15_000)
        page.reload()
        page.wait_for_function("navigator.serviceWorker.controller !== null")
        page.goto(f"{base_url}/more")
        page.get_by_label("Keep forms on this phone for offline use").check()
        wanted = {f"/skills/{card_id}" for card_id in card_ids}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            cached = set(
                page.evaluate(
                    "async () => { const u = []; for (const n of await caches.keys()) for (const r of await"
                    " (await caches.open(n)).keys()) u.push(new URL(r.url).pathname); return u; }"
                )
            )
            if wanted <= cached:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError("the library was not cached")
        context.set_offline(True)
        for _ in range(rounds):
            for card_id in card_ids:
                page.goto(f"{base_url}/skills/{card_id}")
                page.wait_for_selector("h1#card-title")
                times.append(float(page.evaluate("performance.getEntriesByType('navigation')[0].duration")))
        context.set_offline(False)
        context.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-browser", action="store_true", help="sizes only, no Chromium")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from server.skills.catalogue import default_catalogue

    catalogue = default_catalogue()
    with running_server() as server:
        asyncio.run(make_patient(server.database_url))
        client = sign_in(server.url, EMAIL, PASSWORD)
        raw, wire, kinds = library_size(client)
        print(f"skills offline cache ({len(catalogue)} cards, {len(cached_urls())} URLs stored by the offline "
              f"switch): {raw} bytes raw, {wire} bytes gzip on the wire")  # fmt: skip
        print("  " + ", ".join(f"{kind} {size} B" for kind, size in kinds.items()))
        json_raw, json_wire = measure(client, "/skills/catalogue.json")
        print(f"catalogue JSON (/skills/catalogue.json, compact): {json_raw} bytes raw, {json_wire} bytes gzip")
        if args.no_browser:
            return
        cards = ["box-breathing", "urge-surfing", "stop", "tipp", "wise-mind"]
        times = offline_open_times(server.url, cards, args.rounds)
        print(f"open a card offline (Chromium, service-worker cache, {len(times)} navigations over {len(cards)} "
              f"cards): median {statistics.median(times):.1f} ms, p95 {percentile(times, 95):.1f} ms, "
              f"max {max(times):.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()

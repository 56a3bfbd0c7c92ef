"""Issue 15's phone figures, measured in Chromium at 390×844 on the demo clinic (`steady run --demo`, fresh SQLite):

- the widest page width on /log, /checkin and /crisis after adding a 40-character trigger and a safety-plan line
  with no spaces (should be 390 px: nothing pushes the bottom bar off screen);
- where the check-in's Save button ends (px from the top) against the top of the bottom bar, today and for the
  latest earlier day left empty (should be above it: Save within the first screen; the browser tests also check
  Spanish);
- how many controls sit above Save (the issue counted 45 before);
- Content-Security-Policy violations seen while htmx swaps in a refused check-in and craving form (should be 0).

    .venv/bin/python -m bench.polish_layout
"""

from __future__ import annotations

import re
import shutil
import tempfile
from datetime import date, timedelta
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from bench.screenshots import CHROMIUM, CHROMIUM_ARGS, ROLES, sign_in, start_demo_server

LONG_WORD = "Supercalifragilisticexpialidociouslyyyyy"
SAVE = re.compile("^(Save check-in|Save changes)$")  # a day already checked in says "Save changes"
CSP_LISTENER = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective));
"""


def widest(page: Page) -> int:
    return int(page.evaluate("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"))


def save_bottom(page: Page, url: str, path: str, button: re.Pattern[str]) -> tuple[float, float, int]:
    page.goto(url + path)
    save = page.get_by_role("button", name=button).first.bounding_box() or {"y": 0, "height": 0}
    nav = page.locator(".bottom-nav").bounding_box() or {"y": 844}
    controls = int(
        page.evaluate(
            "(y) => Array.from(document.querySelectorAll('main input:not([type=hidden]), main select, main textarea,"
            " main button')).filter(e => { const r = e.getBoundingClientRect(); return r.height > 0 && r.top < y; })"
            ".length",
            save["y"],
        )
    )
    return save["y"] + save["height"], nav["y"], controls


def main() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="steady-polish-"))
    process, url = start_demo_server(data_dir)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
            context.add_init_script(CSP_LISTENER)
            page = context.new_page()
            sign_in(page, url, ROLES["patient"])

            # A 40-character trigger of one's own, and a safety-plan line with no spaces.
            page.goto(url + "/checkin/settings")
            page.get_by_label("Add a trigger of my own").fill(LONG_WORD)
            page.get_by_role("button", name="Add trigger").click()
            page.wait_for_load_state("load")
            page.goto(url + "/crisis/plan/edit")
            page.locator("textarea").first.fill("x" * 300)
            page.get_by_role("button", name="Save my safety plan").click()
            page.wait_for_load_state("load")
            for path in ("/log", "/checkin", "/crisis"):
                page.goto(url + path)
                print(f"width at 390 px   {path:<10} {widest(page)} px")

            bottom, nav, controls = save_bottom(page, url, "/checkin", SAVE)
            print(
                f"check-in Save (today)   ends at {bottom:.0f} px; bottom bar at {nav:.0f} px;"
                f" {controls} controls above it"
            )
            # A late entry: the most recent day the demo patient left empty (days already filled show a summary).
            for back in range(1, 15):
                day = (date.today() - timedelta(days=back)).isoformat()
                page.goto(f"{url}/checkin?date={day}")
                if page.get_by_role("button", name=SAVE).count():
                    bottom, nav, controls = save_bottom(page, url, f"/checkin?date={day}", SAVE)
                    title = page.get_by_role("heading", level=1).inner_text()
                    print(f"check-in Save ({day}, {title!r}) ends at {bottom:.0f} px; bottom bar at {nav:.0f} px")
                    break

            for path, button in (("/checkin", SAVE), ("/log", re.compile("^Save craving$"))):
                page.goto(url + path)
                page.evaluate("window.__csp = []")
                page.get_by_role("button", name=button).first.click()
                page.locator(".alert-error").first.wait_for()
                page.wait_for_timeout(300)
                print(f"CSP violations after an htmx 422 on {path:<8} {len(page.evaluate('window.__csp'))}")
            browser.close()
    finally:
        process.terminate()
        process.wait(timeout=20)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()

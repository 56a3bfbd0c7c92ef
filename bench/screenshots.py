"""The screenshot gallery: every page each demo account can reach, on a phone (390×844) and a desk (1280×900),
in light and dark mode, written to docs/screenshots/ with an index (docs/screenshots/README.md).

    .venv/bin/python -m bench.screenshots                 # all roles, axe-core checked in both colour schemes
    .venv/bin/python -m bench.screenshots --role patient --max-pages 10 --no-axe

It starts a real server with the demo clinic (`steady run --demo`) on a free loopback port and a fresh SQLite
database, signs in as each demo account in Chromium (/usr/bin/chromium through Playwright), and walks the links
from the landing page breadth-first: one page per route shape (numbers in a path count as the same page, and at
most a few siblings of a card-like list such as the 47 skill cards), never a download, never signing out. Each
page is shot at the exact viewport size (not the full length of the page) and the PNGs are reduced to a 256-colour
palette when Pillow is there, so the gallery stays small. With axe on (the default) every page is also checked
with axe-core in light and dark mode, and the index says what it found. Prints the counts and the total size.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "steady-demo-2026"  # server/demo.py DEMO_PASSWORD
ROLES = {
    "patient": "sam@demo.steady",
    "therapist": "therapist@demo.steady",
    "admin": "admin@demo.steady",
    "family": "family@demo.steady",
}
# Pages no link leads to from a landing page, shot as well: signed-out pages, and views reached by a chip.
EXTRA = {
    "guest": ["/login", "/crisis", "/join"],
    "patient": ["/skills?module=mindfulness", "/skills?q=breath"],
    "therapist": ["/therapist?view=since_session&flag=any"],
}
SIZES = {"phone": (390, 844), "desk": (1280, 900)}
SCHEMES = ("light", "dark")
# Never followed: downloads, feeds, signing out, and the machinery behind the pages.
SKIP = re.compile(
    r"(\.(csv|json|pdf|ics|zip|js|webmanifest|png|svg)$)|^/(logout|signout|sign-out|static|push/key|session)"
    r"|/calendar/|/export\b"
)
MAX_SIBLINGS = 3  # e.g. three of the 47 skill cards, not all of them


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_demo_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "STEADY_DATA_DIR": str(data_dir),
        "DATABASE_URL": f"sqlite+aiosqlite:///{data_dir / 'steady.db'}",
        "SECRET_KEY": "screenshots-" + "s" * 40,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "STEADY_DISPATCHER_IN_APP": "0",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "run", "--demo"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/login", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            raise RuntimeError("the demo server stopped while starting")
        time.sleep(0.2)
    process.terminate()
    raise RuntimeError(f"{url} did not come up")


def shape(path: str) -> str:
    """The route a path belongs to: numbers are ids."""
    return re.sub(r"/\d+(?=/|$)", "/{id}", path)


def slug(path: str) -> str:
    text = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")
    return text or "home"


@dataclass
class Shot:
    role: str
    path: str
    title: str
    files: dict[str, str] = field(default_factory=dict)  # "phone-light" -> file name
    axe: dict[str, int] = field(default_factory=dict)  # scheme -> violations


def sign_in(page: Page, url: str, email: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("load")
    if "/login" in page.url:
        raise RuntimeError(f"could not sign in as {email}")


def links(page: Page, origin: str) -> list[str]:
    hrefs: list[str] = page.locator("a[href]").evaluate_all("els => els.map(a => a.getAttribute('href'))")
    found = []
    for href in hrefs:
        absolute = urljoin(page.url, href)
        parts = urlsplit(absolute)
        if f"{parts.scheme}://{parts.netloc}" != origin or SKIP.search(parts.path):
            continue
        found.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return found


def crawl(page: Page, url: str, max_pages: int) -> list[str]:
    """Paths reachable from the landing page, one per route shape, breadth-first."""
    page.goto(url + "/")
    start = urlsplit(page.url).path
    queue: deque[str] = deque([start])
    seen_shapes: set[str] = set()
    siblings: dict[str, int] = {}
    pages: list[str] = []
    while queue and len(pages) < max_pages:
        path = queue.popleft()
        bare = path.split("?", 1)[0]
        key = shape(bare)
        if key in seen_shapes:
            continue
        parent = key.rsplit("/", 1)[0]
        if parent and siblings.get(parent, 0) >= MAX_SIBLINGS and not key.endswith("{id}"):
            continue
        seen_shapes.add(key)
        response = page.goto(url + path)
        if response is None or response.status >= 400 or "text/html" not in response.headers.get("content-type", ""):
            continue
        final = urlsplit(page.url)
        if final.path != bare:  # a redirect ("/" to "/today"): the page it landed on counts
            if shape(final.path) in seen_shapes:
                continue
            seen_shapes.add(shape(final.path))
            path = final.path + (f"?{final.query}" if final.query else "")
        siblings[parent] = siblings.get(parent, 0) + 1
        pages.append(path)
        queue.extend(p for p in links(page, url) if shape(p.split("?", 1)[0]) not in seen_shapes)
    return pages


def axe_violations(page: Page) -> int:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return sum(len(v["nodes"]) for v in result["violations"])


def shrink(path: Path) -> None:
    """A 256-colour palette PNG: screenshots of flat UI lose nothing visible and shrink to about a third."""
    try:
        from PIL import Image
    except ImportError:  # Pillow is optional: keep the full-colour PNG
        return
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        small.save(path, optimize=True)


def shoot(page: Page, url: str, role: str, path: str, out: Path, check: bool) -> Shot:
    page.goto(url + path)
    page.wait_for_load_state("networkidle")
    shot = Shot(role, path, page.title().replace(" · Steady", ""))
    for scheme in SCHEMES:
        page.emulate_media(color_scheme=scheme, reduced_motion="reduce")  # the celebration stands still
        for size, (width, height) in SIZES.items():
            page.set_viewport_size({"width": width, "height": height})
            page.evaluate("window.scrollTo(0, 0)")
            name = f"{role}-{slug(path)}-{size}-{scheme}.png"
            page.screenshot(path=str(out / name), animations="disabled")
            shrink(out / name)
            shot.files[f"{size}-{scheme}"] = name
        if check:
            shot.axe[scheme] = axe_violations(page)
    return shot


def write_index(shots: list[Shot], out: Path, checked: bool) -> None:
    lines = [
        "# Screenshot gallery",
        "",
        "Every page each demo account reaches, on a phone (390×844) and a desk (1280×900), in light and dark mode.",
        "Made by `bench/screenshots.py` against the demo clinic (`make run DEMO=1`); run it again to refresh.",
        "Each shot is the first screen of the page (the viewport), with reduced motion on.",
        "",
    ]
    if checked:
        total = sum(sum(s.axe.values()) for s in shots)
        lines += [f"axe-core found {total} problem(s) across these pages in light and dark mode.", ""]
    for role in ["guest", *ROLES]:
        mine = [s for s in shots if s.role == role]
        if not mine:
            continue
        who = f"{role.capitalize()} ({ROLES[role]})" if role in ROLES else "Signed out"
        lines += [f"## {who}", "", "| Page | Phone light | Phone dark | Desk light | Desk dark |",
                  "| --- | --- | --- | --- | --- |"]  # fmt: skip
        for s in mine:
            cells = [f"[{size} {scheme}]({s.files[f'{size}-{scheme}']})" for size in SIZES for scheme in SCHEMES]
            lines.append(f"| {s.title} `{s.path}` | " + " | ".join(cells) + " |")
        lines += ["", f"![{mine[0].title} on a phone]({mine[0].files['phone-light']})", ""]
    (out / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--role", choices=sorted(["guest", *ROLES]), action="append")
    parser.add_argument("--max-pages", type=int, default=60, help="per role")
    parser.add_argument("--no-axe", action="store_true")
    args = parser.parse_args()
    out: Path = args.out
    if out.exists():
        for old in out.glob("*.png"):
            old.unlink()
    out.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="steady-shots-"))
    process, url = start_demo_server(data_dir)
    shots: list[Shot] = []
    started = time.monotonic()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            for role in args.role or ["guest", *ROLES]:
                context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US",
                                              timezone_id="America/New_York")  # fmt: skip
                page = context.new_page()
                paths = []
                if role in ROLES:
                    sign_in(page, url, ROLES[role])
                    paths = crawl(page, url, args.max_pages)
                paths += [p for p in EXTRA.get(role, []) if p not in paths]
                for path in paths:
                    shots.append(shoot(page, url, role, path, out, not args.no_axe))
                print(f"{role:<10} {len(paths):>3} pages")
                context.close()
            browser.close()
    finally:
        process.terminate()
        process.wait(timeout=20)
        shutil.rmtree(data_dir, ignore_errors=True)
    write_index(shots, out, not args.no_axe)
    size = sum(f.stat().st_size for f in out.glob("*.png"))
    print(f"pages: {len(shots)}  images: {len(list(out.glob('*.png')))}  total: {size / 1e6:.1f} MB  "
          f"in {time.monotonic() - started:.0f} s")  # fmt: skip
    if not args.no_axe:
        bad = [(s.role, s.path, s.axe) for s in shots if any(s.axe.values())]
        print(f"axe-core problems (light and dark): {sum(sum(s.axe.values()) for s in shots)}")
        for role, path, found in bad:
            print(f"  {role} {path}: {found}")


if __name__ == "__main__":
    main()

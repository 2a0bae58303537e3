"""Open a report in Debian's chromium with the network blocked, for tests; read PDF pages.

The `browser` fixture (conftest.py) gives one chromium per test session; these helpers open
pages in it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_SCHEMES = ("file:", "data:", "about:", "blob:")


@dataclass
class Visit:
    """What happened when a page was opened offline."""

    external_urls: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_width: int = 0  # document scroll width in CSS pixels
    viewport_width: int = 0
    images: list[dict[str, float]] = field(default_factory=list)  # page box, natural width


IMAGES_JS = """Array.from(document.images).map(i => {
  const r = i.getBoundingClientRect();
  return {x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height,
          natural_width: i.complete ? i.naturalWidth : 0};
})"""


def require_chromium() -> str:
    """Path of Debian's chromium; without it (or playwright) skip, or fail when env CI is set."""
    path = shutil.which(CHROMIUM) or shutil.which("chromium")
    if not path:
        _unavailable("Debian chromium not found at /usr/bin/chromium: `apt-get install chromium`")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("playwright not installed: `pip install -e .[dev]`")
    return str(path)


def require_chromium_binary() -> str:
    """The Chromium the product prints PDFs with (`report.chromium.find`); without one skip,
    or fail when env CI is set (CI installs it: scripts/bootstrap).
    """
    from utilization.report.chromium import find, not_found_message

    path = find()
    if path is None:
        _unavailable(not_found_message())
    return path


def pdf_producer(path: Path) -> str:
    """The PDF's Producer (pdfinfo): `Skia/PDF m…` from Chromium, `WeasyPrint …`."""
    if not shutil.which("pdfinfo"):
        pytest.skip("pdfinfo not found: `apt-get install poppler-utils`")
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True)
    return next(
        (
            line.split(":", 1)[1].strip()
            for line in info.stdout.splitlines()
            if line.startswith("Producer:")
        ),
        "",
    )


def _unavailable(msg: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(msg + " (CI is set, so browser tests must run)")
    pytest.skip(msg)


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's chromium driven by playwright, open for a batch of pages."""
    path = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_offline(html_path: Path, png_path: Path, width: int = 1100, browser: Any = None) -> Visit:
    """Open `html_path` in chromium, blocking and recording every request that is not
    file:/data:/about:, save a full-page screenshot to `png_path`, and report dialogs,
    console errors, the page's width and where its images are. `browser`: one from
    `chromium()` to reuse, else one is started for this page.
    """
    if browser is None:
        with chromium() as started:
            return open_offline(html_path, png_path, width, started)
    visit = Visit(viewport_width=width)
    page = browser.new_page(viewport={"width": width, "height": 900})
    try:
        page.on("request", lambda req: _request(req.url, visit))
        page.on("dialog", lambda dialog: _dismiss(dialog, visit))
        page.on("console", lambda m: _console(m.type, m.text, visit))
        page.route("**/*", _route)
        page.goto(Path(html_path).resolve().as_uri(), wait_until="load")
        visit.page_width = int(page.evaluate("document.documentElement.scrollWidth"))
        visit.images = list(page.evaluate(IMAGES_JS))
        page.screenshot(path=str(png_path), full_page=True)
    finally:
        page.close()
    return visit


def screenshot_offline(html_path: Path, png_path: Path, browser: Any = None) -> list[str]:
    """Full-page screenshot of `html_path` opened offline; returns the external URLs
    the page tried to load (all blocked).
    """
    return open_offline(html_path, png_path, browser=browser).external_urls


def page_text(browser: Any, path: Path) -> str:
    """The visible text of a page opened offline (everything but file: and data: refused)."""
    page = browser.new_page()
    try:
        page.route("**/*", _route)
        page.goto(path.resolve().as_uri(), wait_until="load")
        return str(page.inner_text("body"))
    finally:
        page.close()


def ink(png: Path, box: tuple[int, int, int, int] | None = None) -> float:
    """Share of pixels that are not near-white, in `box` (left, top, right, bottom)."""
    image_module = pytest.importorskip("PIL.Image")
    with image_module.open(png) as image:
        gray = image.convert("L") if box is None else image.convert("L").crop(box)
        histogram = gray.histogram()
    return 1 - sum(histogram[240:]) / max(sum(histogram), 1)


def _route(route: Any) -> None:
    if route.request.url.startswith(LOCAL_SCHEMES):
        route.continue_()
    else:
        route.abort()


def _request(url: str, visit: Visit) -> None:
    if not url.startswith(LOCAL_SCHEMES):
        visit.external_urls.append(url)


def _dismiss(dialog: object, visit: Visit) -> None:
    visit.dialogs.append(str(getattr(dialog, "message", "")))
    dialog.dismiss()  # type: ignore[attr-defined]


def _console(kind: str, text: str, visit: Visit) -> None:
    if kind == "error":
        visit.console_errors.append(text)


def pdf_pages(path: Path) -> list[str]:
    """Text of each PDF page, laid out (pdftotext splits pages with form feeds)."""
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext not found: `apt-get install poppler-utils`")
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    return [page for page in text.split("\f") if page.strip()]


def pdf_page_images(path: Path, folder: Path, dpi: int) -> list[Path]:
    """One PNG per PDF page at `dpi`, written by pdftoppm into `folder`, in page order."""
    if not shutil.which("pdftoppm"):
        pytest.skip("pdftoppm not found: `apt-get install poppler-utils`")
    subprocess.run(
        ["pdftoppm", "-png", "-r", str(dpi), str(path), str(folder / "page")], check=True
    )
    return sorted(folder.glob("page-*.png"))


# Servers and failures -------------------------------------------------------------------------

ARTIFACTS = Path(
    os.environ.get("UTILIZATION_TEST_ARTIFACTS", Path(__file__).parents[1] / "test-artifacts")
)
"""Where browser tests keep a screenshot of the page they failed on (CI keeps the folder)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def kept_on_failure(page: Any, name: str) -> Iterator[None]:
    """On any failure inside, save a full-page screenshot as `ARTIFACTS/<name>.png`."""
    try:
        yield
    except BaseException:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
        try:
            page.screenshot(path=str(shot), full_page=True)
        except Exception as exc:  # the page may be gone: keep the test's own error
            print(f"no screenshot of the failure: {exc}")
        else:
            print(f"screenshot of the failure: {shot}")
        raise


@contextmanager
def server(command: list[str], ready_url: str, timeout: float = 120, **popen: Any) -> Iterator[Any]:
    """Run `command` until `ready_url` answers (any HTTP status), yield the process, then stop
    it (SIGTERM, then SIGKILL after 20 s). Its output goes to a log file shown on failure.
    """
    import tempfile
    import time
    import urllib.error
    import urllib.request

    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed in the finally below)
        "w+", prefix="server-", suffix=".log", delete=False
    )
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, **popen)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                log.seek(0)
                pytest.fail(f"{command[:4]} ended ({process.returncode}):\n{log.read()[-3000:]}")
            try:
                urllib.request.urlopen(ready_url, timeout=5).close()
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                if time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(
                        f"{command[:4]} did not answer in {timeout} s:\n{log.read()[-3000:]}"
                    )
                time.sleep(0.3)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        os.unlink(log.name)


def local_only(page: Any, hosts: tuple[str, ...] = ("127.0.0.1",)) -> list[str]:
    """Refuse every request of `page` that leaves `hosts` (and data:/blob:/about:); return the
    list the refused addresses are added to.
    """
    refused: list[str] = []
    allowed = LOCAL_SCHEMES + tuple(f"{s}://{h}" for s in ("http", "ws") for h in hosts)

    def route(request_route: Any) -> None:
        url = request_route.request.url
        if url.startswith(allowed):
            request_route.continue_()
        else:
            refused.append(url)
            request_route.abort()

    page.route("**/*", route)
    return refused

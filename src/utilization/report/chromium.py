"""PDF printed by a headless Chromium kept open for many reports, driven over its DevTools pipe.

WeasyPrint lays out a client report in about 0.45 s of Python; Chromium prints the same HTML
in about 0.1 s of its own processes' time. `Browser` starts the system's Chromium
(`find`: $UTILIZATION_CHROMIUM, else `chromium` or `chromium-browser` on PATH) with
`--remote-debugging-pipe` and speaks the DevTools protocol (JSON messages ended by NUL bytes
on file descriptors 3 and 4) with the standard library only: no Playwright, no Node.

Each report's HTML replaces the document of one page (`Page.setDocumentContent`), with the
page rules of `render.page_css` added (Chromium draws the `@page` margin boxes: the running
header and "Page N of M"); the images and fonts are awaited, then `Page.printToPDF` returns
the file. Offline by construction:

- every request of the page passes through `Fetch` and all but `file:` and `data:` are
  failed before they leave (`blocked` lists them); the reports embed everything as `data:`
  and their Content-Security-Policy forbids any other load besides;
- host names resolve to nothing (`--host-resolver-rules`), and the browser's own traffic is
  off: background networking, component updates, sync, extensions, crash reports.

The browser lives in a profile folder of its own (removed by `close`) and a session of its
own: Ctrl-C reaches the command, which closes it (SIGTERM to that session). When the Python
process dies without closing it, the pipe's end makes Chromium exit by itself.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from utilization.exceptions import EnvironmentFault
from utilization.files import run_folder

CHROMIUM_ENV = "UTILIZATION_CHROMIUM"  # a Chromium (or Chrome) executable to use
PROFILE_PREFIX = "utilization-chromium-"  # + host and pid of the process driving it
NAMES = ("chromium", "chromium-browser")
LOCAL_SCHEMES = ("file:", "data:")
TIMEOUT_SECONDS = 120.0  # one DevTools call (a start, a print); a stuck browser is ended
_STOP_SECONDS = 5.0
_TEMP_PATH_MAX = 60  # + /org.chromium.Chromium.XXXXXX/SingletonSocket: a socket path's limit
FLAGS = (
    "--headless",
    "--remote-debugging-pipe",
    "--no-sandbox",  # root in containers has no sandbox; the page is our own, scripts refused
    "--disable-gpu",
    "--disable-dev-shm-usage",  # small /dev/shm in containers
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-crash-reporter",
    "--disable-breakpad",
    "--metrics-recording-only",
    "--no-pings",
    "--mute-audio",
    "--hide-scrollbars",
    "--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication,"
    "SpareRendererForSitePerProcess",
    "--host-resolver-rules=MAP * ~NOTFOUND",
)
# Resolves once the page has loaded (style sheets, images, frames: refused ones count as
# done), its fonts are loaded and its images decoded.
READY_JS = """new Promise(loaded => document.readyState === "complete" ? loaded()
    : addEventListener("load", loaded, {once: true}))
  .then(() => Promise.all([document.fonts.ready,
    ...Array.from(document.images, i => i.decode().catch(() => null))]))
  .then(() => true)"""


def find() -> str | None:
    """The Chromium to use: $UTILIZATION_CHROMIUM when set (None if it is not an executable
    file), else `chromium` or `chromium-browser` on PATH; None when there is none.
    """
    configured = os.environ.get(CHROMIUM_ENV)
    if configured:
        path = Path(configured)
        return str(path) if path.is_file() and os.access(path, os.X_OK) else None
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def not_found_message() -> str:
    """One line: which Chromium was looked for, and what to do."""
    configured = os.environ.get(CHROMIUM_ENV)
    where = (
        f"${CHROMIUM_ENV} ({configured}) is not an executable file"
        if configured
        else f"no {' or '.join(NAMES)} on PATH"
    )
    return (
        f"the PDF engine chromium is not available: {where}; install it (Debian or Ubuntu: "
        "apt-get install chromium), set UTILIZATION_CHROMIUM, or choose --pdf-engine weasyprint"
    )


class Browser:
    """One headless Chromium and one page in it, printing HTML to PDF; `close` it, or use
    it as a context manager. Calls from several threads take turns.
    """

    def __init__(self, path: str | None = None) -> None:
        executable = path or find()
        if executable is None:
            raise EnvironmentFault(not_found_message())
        self.path = executable
        self.blocked: list[str] = []  # addresses the pages asked for, refused
        self._lock = threading.Lock()
        self._buffer = bytearray()
        self._next_id = 0
        self._session = ""
        self._frame = ""
        # Profiles of browsers whose Python process ended (killed before it could close
        # them; the browser then ended with the pipe) are removed first, on this machine.
        self._profile = str(run_folder(PROFILE_PREFIX))
        self._process: subprocess.Popen[bytes] | None = None
        # Chromium reads commands from descriptor 3 and writes to 4: the pipes are given to
        # the shell that starts it as its standard input and output, and moved there.
        to_child, self._send_fd = os.pipe()
        self._receive_fd, from_child = os.pipe()
        log = Path(self._profile) / "chromium.log"
        try:
            with open(log, "wb") as errors:
                self._process = subprocess.Popen(
                    [
                        "/bin/sh",
                        "-c",
                        'exec "$@" 3<&0 4>&1 </dev/null >/dev/null',
                        "sh",
                        executable,
                        f"--user-data-dir={self._profile}",
                        *FLAGS,
                        "about:blank",
                    ],
                    stdin=to_child,
                    stdout=from_child,
                    stderr=errors,
                    env=_environment(),
                    start_new_session=True,  # Ctrl-C is the command's: it closes the browser
                )
        except OSError as exc:
            self.close()
            msg = f"the PDF engine chromium ({executable}) could not start: {exc}"
            raise EnvironmentFault(msg) from None
        finally:
            os.close(to_child)
            os.close(from_child)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def alive(self) -> bool:
        """Whether the browser process still runs."""
        return self._process is not None and self._process.poll() is None

    def pdf(self, html: str, css: str = "") -> bytes:
        """The PDF of `html` with the style sheet `css` added after its own (`@page` rules)."""
        if css:
            style = f"<style>{css}</style>"
            end = html.find("</head>")
            html = html[:end] + style + html[end:] if end >= 0 else style + html
        with self._lock:
            try:
                if not self._session:
                    self._open_page()
                self._call("Page.setDocumentContent", {"frameId": self._frame, "html": html})
                self._call(
                    "Runtime.evaluate",
                    {"expression": READY_JS, "awaitPromise": True, "returnByValue": True},
                )
                printed = self._call(
                    "Page.printToPDF",
                    {
                        "printBackground": True,
                        "preferCSSPageSize": True,  # the @page size and margins
                        "generateDocumentOutline": True,  # bookmarks from the headings
                    },
                )
            except BaseException:  # a fault, Ctrl-C half-way: the next PDF starts afresh
                self.close()
                raise
        return base64.b64decode(printed["data"])

    def _open_page(self) -> None:
        """A page to print in, every request it makes passed through `Fetch`."""
        target = self._call("Target.createTarget", {"url": "about:blank"}, session=False)
        attached = self._call(
            "Target.attachToTarget",
            {"targetId": target["targetId"], "flatten": True},
            session=False,
        )
        self._session = attached["sessionId"]
        self._call("Fetch.enable", {"patterns": [{"urlPattern": "*"}]})
        tree = self._call("Page.getFrameTree")
        self._frame = tree["frameTree"]["frame"]["id"]

    def _call(self, method: str, params: dict[str, Any] | None = None, session: bool = True) -> Any:
        """Send one command and wait for its answer, answering the page's requests meanwhile."""
        self._next_id += 1
        ident = self._next_id
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self._session
        self._send(message)
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while True:
            answer = self._receive(deadline, method)
            if answer.get("id") == ident:
                if "error" in answer:
                    error = answer["error"].get("message", answer["error"])
                    msg = f"the PDF engine chromium refused {method}: {error}"
                    raise EnvironmentFault(msg)
                return answer.get("result", {})
            self._event(answer)

    def _event(self, message: dict[str, Any]) -> None:
        """A request paused by `Fetch`: let file: and data: through, fail every other."""
        method = message.get("method")
        if method == "Fetch.requestPaused":
            params = message["params"]
            url = str(params["request"]["url"])
            reply: dict[str, Any] = {"requestId": params["requestId"]}
            if url.startswith(LOCAL_SCHEMES):
                name = "Fetch.continueRequest"
            else:
                self.blocked.append(url)
                name, reply["errorReason"] = "Fetch.failRequest", "BlockedByClient"
            self._next_id += 1  # its answer is read and dropped like any other message
            self._send(
                {"id": self._next_id, "method": name, "params": reply, "sessionId": self._session}
            )
        elif method in ("Inspector.targetCrashed", "Target.targetCrashed"):
            msg = "the PDF engine chromium's page crashed"
            raise EnvironmentFault(msg)

    def _send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message).encode("utf-8") + b"\0"
        try:
            while data:
                data = data[os.write(self._send_fd, data) :]
        except OSError:
            raise EnvironmentFault(self._stopped("stopped")) from None

    def _receive(self, deadline: float, method: str) -> dict[str, Any]:
        """The next message, waiting at most until `deadline`."""
        start = 0
        while (end := self._buffer.find(b"\0", start)) < 0:
            start = len(self._buffer)
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._receive_fd], [], [], left)[0]:
                msg = f"the PDF engine chromium did not answer {method} in {TIMEOUT_SECONDS:.0f} s"
                raise EnvironmentFault(msg)
            try:
                chunk = os.read(self._receive_fd, 1 << 20)
            except OSError:
                chunk = b""
            if not chunk:
                raise EnvironmentFault(self._stopped("stopped"))
            self._buffer += chunk
        message: dict[str, Any] = json.loads(self._buffer[:end])
        del self._buffer[: end + 1]
        return message

    def _stopped(self, what: str) -> str:
        """Why the browser went away, in one line (its exit code and last logged line)."""
        code = self._process.poll() if self._process is not None else None
        last = ""
        with contextlib.suppress(OSError):
            log = (Path(self._profile) / "chromium.log").read_text(errors="replace")
            lines = [line for line in log.splitlines() if line.strip() and "dbus" not in line]
            fatal = [line for line in lines if ":FATAL:" in line]
            last = (fatal or lines or [""])[-1][-300:]
        how = f" (exit code {code})" if code is not None else ""
        return f"the PDF engine chromium ({self.path}) {what}{how}" + (f": {last}" if last else "")

    def close(self) -> None:
        """End the browser and every process it started, reap it, remove its profile folder.

        SIGTERM to its session (its own process group): Chromium shuts down, faster than
        when asked over the pipe; SIGKILL if it has not after `_STOP_SECONDS`. Then SIGKILL
        to the group, for a helper process still ending: the helpers are children of the
        browser, and the system reaps them once it is gone.
        """
        process, self._process = self._process, None
        if process is not None:
            group = process.pid
            _signal_group(group, signal.SIGTERM)
            try:
                process.wait(_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                _signal_group(group, signal.SIGKILL)
                process.wait()
            _signal_group(group, signal.SIGKILL)
        self._close_pipe()
        self._session = self._frame = ""
        shutil.rmtree(self._profile, ignore_errors=True)

    def _close_pipe(self) -> None:
        for fd in (self._send_fd, self._receive_fd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._send_fd = self._receive_fd = -1


def _signal_group(group: int, number: int) -> None:
    """Send a signal to a process group, if any process of it is left."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, number)


def _environment() -> dict[str, str]:
    """This process's environment, with a short TMPDIR: Chromium puts a socket in a folder
    of its own there and stops (`Socket path too long`) past 107 bytes of path.
    """
    env = dict(os.environ)
    if len(tempfile.gettempdir()) > _TEMP_PATH_MAX and os.access("/tmp", os.W_OK):
        env["TMPDIR"] = "/tmp"
    return env


_shared: Browser | None = None
_shared_lock = threading.Lock()


def shared() -> Browser:
    """This process's browser, started on first use (or when the last one stopped) and kept
    for every later PDF; closed by `close_shared` or when the process exits.
    """
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.alive:
            if _shared is not None:
                _shared.close()
            else:
                _close_at_exit()
            _shared = Browser()
        return _shared


def close_shared() -> None:
    """Close this process's browser, if one was started."""
    global _shared
    with _shared_lock:
        if _shared is not None:
            _shared.close()
            _shared = None


_registered = False


def _close_at_exit() -> None:
    """Close the browser when the process ends; multiprocessing children skip atexit, so
    use its finalizers as well.
    """
    global _registered
    if _registered:
        return
    _registered = True
    from multiprocessing import util

    atexit.register(close_shared)
    util.Finalize(None, close_shared, exitpriority=10)

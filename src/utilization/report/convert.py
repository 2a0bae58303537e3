"""HTML and PDF made by a helper process started ahead, for one report from a new process.

Before it converts anything, a process's first report imports nbconvert, compiles the HTML
template and the selectors nbconvert's clean-up uses, and starts its PDF engine (Chromium
starts and prints a first page; WeasyPrint is imported and loads the fonts): about 0.8 s
here. `Converter` starts a process (`python -m utilization.report.convert`) that does all of
this, with a small report of its own, on the other core while the template runs in this one;
it then makes the HTML and the PDF of the executed notebook there, with the same functions
(`render.notebook_to_html`, `render.html_to_pdf`) and the same atomic writes; it closes its
browser before it ends. An error there is raised here as it was raised there. When the helper
cannot start or stops, this process converts, as it would without one.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import subprocess
import sys
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import nbformat

from utilization.exceptions import ReportError, UtilizationError

WARM_UP_HTML = """<!DOCTYPE html><html><body><h2>Warm-up</h2><table><thead><tr><th>a</th>
</tr></thead><tbody><tr><td class="num">1</td></tr></tbody></table><svg width="20" height="20"
xmlns="http://www.w3.org/2000/svg"><text x="1" y="10" font-family="Liberation Sans">1</text>
</svg></body></html>"""
WARM_UP_TABLE = WARM_UP_HTML[WARM_UP_HTML.index("<table>") : WARM_UP_HTML.index("<svg")]
WARM_UP_SVG = WARM_UP_HTML[WARM_UP_HTML.index("<svg") : WARM_UP_HTML.index("</body>")]
_STOP_SECONDS = 10.0
Request = tuple[str, str, str, str, Path | None, Path | None, Path | None, str]


class Converter:
    """A helper process for HTML and PDF, started when made: `close` it, or use it as a
    context manager.
    """

    def __init__(self, pdf_engine: str = "auto") -> None:
        """`pdf_engine`: the engine the helper warms up and prints with (`pdf_engine.choose`:
        `chromium` or `weasyprint`; `auto` chooses there); `none` when no PDF is asked for.
        """
        self.pdf_engine = pdf_engine
        self._process: subprocess.Popen[bytes] | None = None
        self._send: Connection | None = None
        self._receive: Connection | None = None
        child_in, parent_out = os.pipe()
        parent_in, child_out = os.pipe()
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(child_in), str(child_out), pdf_engine],
                pass_fds=(child_in, child_out),
                stdin=subprocess.DEVNULL,
            )
        except OSError:  # no helper: this process converts
            os.close(parent_in)
            os.close(parent_out)
        else:
            self._receive = Connection(parent_in, writable=False)
            self._send = Connection(parent_out, readable=False)
        finally:
            os.close(child_in)
            os.close(child_out)

    def __enter__(self) -> Converter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def convert(
        self,
        nb: nbformat.NotebookNode,
        title: str,
        subtitle: str,
        header: str,
        html: Path | None,
        pdf: Path | None,
        within: Path | None = None,
    ) -> None:
        """Write the notebook's HTML to `html` and its PDF to `pdf` (either may be None)."""
        engine = self.pdf_engine
        request: Request = (nbformat.writes(nb), title, subtitle, header, html, pdf, within, engine)
        answer = self._ask(request)
        if answer is _NO_HELPER:
            _convert(*request)
        elif answer is not None:
            raise answer

    def _ask(self, request: Request) -> Any:
        """The helper's answer (None or an exception to raise), or _NO_HELPER."""
        if self._send is None or self._receive is None:
            return _NO_HELPER
        try:
            self._send.send(request)
            return self._receive.recv()
        except (EOFError, OSError):  # the helper is gone
            self.close()
            return _NO_HELPER

    def close(self) -> None:
        """Tell the helper to stop; end it if it does not."""
        if self._send is not None:
            with contextlib.suppress(OSError, ValueError):
                self._send.send(None)
            self._send.close()
        if self._receive is not None:
            self._receive.close()
        self._send = self._receive = None
        if self._process is not None:
            try:
                self._process.wait(_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None


_NO_HELPER = object()


def _serve(receive: Connection, send: Connection, pdf_engine: str) -> None:
    """The helper: warm up, then convert each request until told to stop (None)."""
    with contextlib.suppress(Exception):  # a failing warm-up fails again, with its message, below
        _warm_up(pdf_engine)
    while True:
        try:
            request: Any = receive.recv()
        except (EOFError, OSError):
            break  # the parent is gone
        if request is None:
            break
        try:
            _convert(*request)
        except Exception as exc:  # raised in the parent
            send.send(_sendable(exc))
        else:
            send.send(None)


def _convert(
    text: str,
    title: str,
    subtitle: str,
    header: str,
    html_path: Path | None,
    pdf_path: Path | None,
    within: Path | None,
    pdf_engine: str = "auto",
) -> None:
    from utilization.files import write_atomic
    from utilization.report.render import html_to_pdf, notebook_to_html

    html = notebook_to_html(nbformat.reads(text, as_version=4), title, subtitle)
    if html_path is not None:
        write_atomic(html_path, html.encode("utf-8"), within=within)
    if pdf_path is not None:
        html_to_pdf(html, pdf_path, header=header, within=within, engine=pdf_engine)


def _warm_up(pdf_engine: str) -> None:
    """Imports, the HTML template compiled, the PDF engine started (WeasyPrint: fonts
    loaded): a small report made and dropped.
    """
    from utilization.report.render import notebook_to_html, pdf_bytes

    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("## Warm-up"),
            nbformat.v4.new_code_cell(
                outputs=[
                    nbformat.v4.new_output("display_data", data={"text/html": WARM_UP_TABLE}),
                    nbformat.v4.new_output(
                        "display_data", data={"image/svg+xml": WARM_UP_SVG, "text/plain": "c"}
                    ),
                ]
            ),
        ]
    )
    html = notebook_to_html(nb, "Warm-up")
    if pdf_engine == "chromium":  # a page like a report's: its first print costs the most
        pdf_bytes(html, "Warm-up", engine=pdf_engine)
    elif pdf_engine != "none":
        pdf_bytes(WARM_UP_HTML, "Warm-up", engine=pdf_engine)


def _sendable(exc: Exception) -> Exception:
    """The exception if it survives pickling, else a ReportError with its text (the
    command's error handling then prints it as it prints any of the package's errors).
    """
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        own = isinstance(exc, UtilizationError)
        return ReportError(str(exc) if own else f"{type(exc).__name__}: {exc}")
    return exc


if __name__ == "__main__":
    # Ctrl-C reaches the whole process group: it is the command's to handle, which then
    # closes the pipe and this helper ends (no second traceback from here).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _serve(
            Connection(int(sys.argv[1]), writable=False),
            Connection(int(sys.argv[2]), readable=False),
            sys.argv[3] if len(sys.argv) > 3 else "auto",
        )
    finally:
        from utilization.report.chromium import close_shared

        close_shared()  # os._exit runs no atexit: the browser is closed here
    os._exit(0)  # every file is written and synced: no interpreter teardown to wait for

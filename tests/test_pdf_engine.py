"""The PDF engines: which one is chosen, Chromium offline and closed whatever happens."""

from __future__ import annotations

import base64
import http.server
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import psutil
import pytest

from browser import pdf_pages, require_chromium_binary
from utilization.cli import main
from utilization.exceptions import EnvironmentFault, MissingExtraError
from utilization.report import chromium, pdf_engine, render

ROOT = Path(__file__).resolve().parents[1]


class _Counting(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]]

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.end_headers()
        self.wfile.write(b"body { background: red }")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on 127.0.0.1 that records every request it gets."""
    hits: list[str] = []
    handler = type("Handler", (_Counting,), {"hits": hits})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", hits
    finally:
        httpd.shutdown()
        httpd.server_close()


INLINE_SVG = base64.b64encode(
    b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b'<rect width="10" height="10"/></svg>'
).decode()


def hostile_page(base: str) -> str:
    """A page (no Content-Security-Policy) loading from `base` in every way a page can."""
    return f"""<!DOCTYPE html><html><head><title>t</title>
<link rel="stylesheet" href="{base}/sheet.css">
<link rel="prefetch" href="{base}/prefetch">
<style>@import url("{base}/import.css");
@font-face {{ font-family: Remote; src: url("{base}/font.woff2"); }}
body {{ background-image: url("{base}/background.png"); font-family: Remote, sans-serif; }}
</style><script src="{base}/script.js"></script></head>
<body><h1>Offline</h1><img src="{base}/image.png" alt="i">
<img src="http://utilization-test.invalid/named.png" alt="n">
<iframe src="{base}/frame.html"></iframe><object data="{base}/object.svg"></object>
<video src="{base}/video.mp4" poster="{base}/poster.png"></video>
<img alt="inline" src="data:image/svg+xml;base64,{INLINE_SVG}">
</body></html>"""


@pytest.mark.parametrize("engine", ["chromium", "weasyprint"])
def test_no_engine_makes_any_network_request(
    server: tuple[str, list[str]], tmp_path: Path, engine: str
) -> None:
    """A page asking for a style sheet, fonts, images, a frame, a script, a prefetch from
    a server on this machine: the PDF is made, the server gets no request at all.
    """
    if engine == "chromium":
        require_chromium_binary()
    else:
        pytest.importorskip("weasyprint")
    base, hits = server
    out = tmp_path / "p.pdf"
    render.html_to_pdf(hostile_page(base), out, header="Header", engine=engine)
    time.sleep(0.5)  # anything late would still reach the server
    assert hits == []
    assert "Offline" in pdf_pages(out)[0]


def test_chromium_fails_every_request_but_file_and_data(
    server: tuple[str, list[str]],
) -> None:
    """The browser lists what it refused: the server's addresses and the named host's."""
    require_chromium_binary()
    base, hits = server
    with chromium.Browser() as browser:
        pdf = browser.pdf(hostile_page(base))
        assert pdf.startswith(b"%PDF-")
        assert f"{base}/sheet.css" in browser.blocked
        assert f"{base}/image.png" in browser.blocked
        assert "http://utilization-test.invalid/named.png" in browser.blocked
        assert not any(url.startswith("data:") for url in browser.blocked)
    assert hits == []


def test_a_closed_browser_leaves_no_process_and_no_profile() -> None:
    """After `close`, the browser's processes are gone (reaped) and its profile removed."""
    require_chromium_binary()
    browser = chromium.Browser()
    assert browser.pdf("<p>one</p>").startswith(b"%PDF-")
    assert browser._process is not None
    shell = psutil.Process(browser._process.pid)
    processes = [shell, *shell.children(recursive=True)]
    profile = Path(browser._profile)
    assert profile.is_dir()
    browser.close()
    browser.close()  # twice is harmless
    assert not profile.exists()
    for process in processes:
        assert not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    assert not [c for c in psutil.Process().children() if c.status() == psutil.STATUS_ZOMBIE]


def test_a_browser_that_died_is_started_again_for_the_next_pdf() -> None:
    """The process's shared browser killed between reports: the next PDF starts a new one."""
    require_chromium_binary()
    try:
        first = chromium.shared()
        assert first.pdf("<p>one</p>").startswith(b"%PDF-")
        assert first._process is not None
        os.killpg(first._process.pid, signal.SIGKILL)
        first._process.wait()
        second = chromium.shared()
        assert second is not first
        assert second.pdf("<p>two</p>").startswith(b"%PDF-")
    finally:
        chromium.close_shared()


def test_auto_is_chromium_when_found_else_weasyprint(monkeypatch: pytest.MonkeyPatch) -> None:
    """`auto` prints with Chromium when there is one, else with WeasyPrint; an explicit
    engine is kept; neither there: the extra to install, and where Chromium was looked for.
    """
    require_chromium_binary()
    assert pdf_engine.choose("auto") == "chromium"
    assert pdf_engine.choose("weasyprint") == "weasyprint"
    monkeypatch.setenv(chromium.CHROMIUM_ENV, "/nonexistent/chromium")
    assert chromium.find() is None
    assert pdf_engine.choose("auto") == "weasyprint"
    with pytest.raises(EnvironmentFault, match=r"UTILIZATION_CHROMIUM \(/nonexistent/chromium\)"):
        pdf_engine.choose("chromium")
    monkeypatch.setattr(pdf_engine, "require", _missing)
    with pytest.raises(MissingExtraError, match=r"without Chromium.*utilization\[pdf\]"):
        pdf_engine.choose("auto")


def _missing(module: str, extra: str, purpose: str) -> None:
    raise MissingExtraError(extra, module, purpose)


@pytest.mark.parametrize("command", ["report", "batch"])
def test_a_missing_chromium_is_one_line_and_no_work(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    command: str,
) -> None:
    """`--pdf-engine chromium` without a Chromium: exit 1, one line saying what to do, no
    traceback, nothing written.
    """
    monkeypatch.setenv(chromium.CHROMIUM_ENV, str(tmp_path / "no-chromium"))
    out = tmp_path / "out"
    if command == "report":
        argv = ["report", "client", "--client", "C0001", "--out", str(out)]
    else:
        spec = tmp_path / "set.yaml"
        spec.write_text(
            f"name: s\nview: client\nperiod: 2026-Q1\ndata: demo\nclients: [C0001]\n"
            f"formats: [html, pdf]\nout: {out}\n"
        )
        argv = ["batch", str(spec), "--no-progress"]
    assert main([*argv, "--pdf-engine", "chromium"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "Traceback" not in err
    assert "apt-get install chromium" in err and "--pdf-engine weasyprint" in err
    assert not out.exists()


def chromium_processes(marker: str) -> list[psutil.Process]:
    """Running (not zombie) processes whose command line mentions `marker`."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        if process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if any(marker in part for part in process.info["cmdline"] or []):
            found.append(process)
    return found


def batch_argv(tmp_path: Path, clients: int) -> list[str]:
    spec = tmp_path / "set.yaml"
    ids = ", ".join(f"C{i:04d}" for i in range(1, clients + 1))
    spec.write_text(
        f"name: s\nview: client\nperiod: 2026-Q1\ndata: demo\nclients: [{ids}]\n"
        f"formats: [pdf]\nout: {tmp_path / 'out'}\n"
    )
    return [sys.executable, "-m", "utilization", "batch", str(spec), "--workers", "2"]


def batch_env(tmp_path: Path) -> dict[str, str]:
    """The batch's temporary files (and so its browsers' profiles) in a folder of its own."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    return os.environ | {"TMPDIR": str(temp), "PYTHONPATH": str(ROOT / "src")}


def test_a_batch_closes_its_browsers_when_it_ends(tmp_path: Path) -> None:
    """Two workers, each with its browser: after the run no browser process of it is left
    and no profile folder.
    """
    require_chromium_binary()
    env = batch_env(tmp_path)
    done = subprocess.run(
        [*batch_argv(tmp_path, 4), "--no-progress", "--pdf-engine", "chromium"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(list((tmp_path / "out").rglob("*.pdf"))) == 4
    assert chromium_processes(env["TMPDIR"]) == []
    assert list(Path(env["TMPDIR"]).glob("utilization-chromium-*")) == []


def test_ctrl_c_in_a_batch_closes_its_browsers(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the command's process group) while the workers print: the command
    ends, and so does every browser it started; no profile folder is left.
    """
    require_chromium_binary()
    env = batch_env(tmp_path)
    process = subprocess.Popen(
        [*batch_argv(tmp_path, 40), "--no-progress", "--pdf-engine", "chromium"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, as a terminal gives it
    )
    try:
        deadline = time.monotonic() + 300
        while not chromium_processes(env["TMPDIR"]) or not list((tmp_path / "out").rglob("*.pdf")):
            assert process.poll() is None, "the batch ended before it printed"
            assert time.monotonic() < deadline, "no browser started"
            time.sleep(0.2)
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    deadline = time.monotonic() + 10
    while chromium_processes(env["TMPDIR"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert chromium_processes(env["TMPDIR"]) == []
    assert list(Path(env["TMPDIR"]).glob("utilization-chromium-*")) == []


def test_a_killed_process_leaves_no_browser_and_its_profile_goes_next_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process killed outright (SIGKILL) cannot close its browser: the browser ends with
    the pipe, and the next browser started removes the profile folder left behind.
    """
    require_chromium_binary()
    env = batch_env(tmp_path)
    code = (
        "from utilization.report import chromium\n"
        "chromium.shared().pdf('<p>x</p>')\n"
        "print('ready', flush=True)\n"
        "import time; time.sleep(120)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
    finally:
        process.kill()
        process.wait()
    deadline = time.monotonic() + 10
    while chromium_processes(env["TMPDIR"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert chromium_processes(env["TMPDIR"]) == []
    left = list(Path(env["TMPDIR"]).glob("utilization-chromium-*"))
    made_by = [p.name[len(chromium.PROFILE_PREFIX) :].rsplit("-", 2)[:2] for p in left]
    assert made_by == [[socket.gethostname(), str(process.pid)]]
    monkeypatch.setattr(tempfile, "tempdir", env["TMPDIR"])
    with chromium.Browser() as browser:
        assert not left[0].exists()
        assert Path(browser._profile).parent == Path(env["TMPDIR"])


def test_another_pdf_engine_makes_the_pdfs_again(
    demo_folder: Callable[..., Path], tmp_path: Path
) -> None:
    """The engine is part of a report's up-to-date key: the same set printed by WeasyPrint,
    then by Chromium, renders again; Chromium once more finds the report up to date.
    """
    from datetime import date

    from utilization.batch import run_batch
    from utilization.batch.plan import parameter_set

    require_chromium_binary()
    data = demo_folder(clients=8, today=date(2026, 11, 23))
    spec = parameter_set(
        {"name": "q", "view": "client", "period": "2026-Q4", "data": str(data),
         "clients": ["C0001"], "formats": ["html", "pdf"], "out": str(tmp_path)}
    )  # fmt: skip
    rendered = []
    for engine in ("weasyprint", "chromium", "chromium"):
        result = run_batch(spec, pdf_engine=engine)
        assert [r.status for r in result.records] == ["ok"]
        rendered.append(result.rendered)
    assert rendered == [1, 1, 0]

"""`utilization dashboard`: the dashboard template served by Voilà, on 127.0.0.1, behind a token.

The data is read and checked once, before anything is served (a source that cannot be used
is one message and exit code 1, as for every command), in a process of its own that writes
the loaded copy for the pages and ends; each page's kernel then maps that copy
(`pipeline.load_cached` with a `data_slice`, `packing.read_mapped`) instead of reading the
source again, so the kernels share one copy of the data in the system's file cache. Voilà
runs in this process, configured so that a viewer never sees code, a traceback or a file:
sources stripped, tracebacks off, no template or theme from the address, no file served from
the page's folder, and every request needing the token.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TextIO, TypeVar

import nbformat

from utilization.exceptions import EnvironmentFault, require
from utilization.files import run_folder
from utilization.pipeline import load, write_shared
from utilization.rejects import summary_text
from utilization.report.runner import templates_dir

TEMPLATE = "dashboard.ipynb"
TEMPLATE_NAME = "utilization"  # voila/templates/utilization/ beside this module
DEFAULT_IP = "127.0.0.1"
DEFAULT_PORT = 8866
HEADERS = {
    # Sent with every response: the token travels in the first address, so no page may pass
    # it on as a referrer, and no browser may guess a download's type.
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def new_token() -> str:
    """A token as Jupyter makes them: 48 hexadecimal characters from the system's secrets."""
    return secrets.token_hex(24)


def page_url(ip: str, port: int, token: str) -> str:
    """The address to open: `http://127.0.0.1:8866/?token=…` (IPv6 addresses bracketed)."""
    host = f"[{ip}]" if ":" in ip else ip
    return f"http://{host}:{port}/?token={token}"


def prepare(
    data: str, settings: str, folder: Path, today: str = "", out: TextIO = sys.stdout
) -> Path:
    """Load and check the data once, keep the loaded copy in `folder`, and write the
    dashboard notebook with its parameters beside it (a cell after the parameters cell, as
    papermill injects them); return the notebook's path.
    """
    store = folder / "data"
    store.mkdir(mode=0o700)
    loaded = store / "dataset.pickle"
    print(_in_own_process(load_and_write, data, settings, loaded), file=out)
    page = folder / "page"
    page.mkdir(mode=0o700)
    template = nbformat.read(templates_dir() / TEMPLATE, as_version=4)
    parameters = {"data": data, "settings": settings, "data_slice": str(loaded), "today": today}
    path = page / TEMPLATE
    nbformat.write(with_parameters(template, parameters), path)
    return path


def load_and_write(data: str, settings: str, path: Path) -> str:
    """Load and check the data, write it mapped to `path` (each page's kernel maps the file:
    the system's file cache holds one copy for all of them); the rejects' summary.
    """
    dataset = load(data, settings or None)
    write_shared(path, dataset)
    return summary_text(dataset)


R = TypeVar("R")


def _in_own_process(work: Callable[..., R], *args: object) -> R:
    """`work(*args)` in a new process, so that the memory it takes is given back when it
    ends: loading 10M visits leaves about 1.8 GB held by the process that loaded them,
    which the server would keep for as long as it runs. Its error is raised here.
    """
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        try:
            return pool.submit(work, *args).result()
        except BrokenProcessPool:
            msg = "the process loading the data ended before it was done (out of memory?)"
            raise EnvironmentFault(msg) from None


def with_parameters(template: nbformat.NotebookNode, parameters: dict[str, str]) -> Any:
    """The template with a cell setting `parameters` right after its parameters cell."""
    notebook = nbformat.from_dict(template)
    index = next(
        i
        for i, cell in enumerate(notebook.cells)
        if "parameters" in cell.get("metadata", {}).get("tags", [])
    )
    source = "\n".join(f"{name} = {value!r}" for name, value in parameters.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    notebook.cells.insert(index + 1, cell)
    return notebook


def voila_config(page: Path, ip: str, port: int, token: str) -> Any:
    """Voilà's settings: where and how it listens, and what a viewer may never see."""
    from traitlets.config import Config

    config = Config()
    config.Voila.ip = ip
    config.Voila.port = port
    config.Voila.port_retries = 0  # the port asked for, or an error: never another one
    config.Voila.open_browser = False
    config.Voila.token = token
    config.Voila.root_dir = str(page.parent)
    config.Voila.tornado_settings = {"headers": dict(HEADERS)}
    config.VoilaConfiguration.template = TEMPLATE_NAME  # the lab template without CDN loads
    config.VoilaConfiguration.strip_sources = True
    config.VoilaConfiguration.show_tracebacks = False
    config.VoilaConfiguration.allow_template_override = "NO"
    config.VoilaConfiguration.allow_theme_override = "NO"
    config.VoilaConfiguration.file_allowlist = []  # /voila/files/ serves nothing
    return config


def use_templates() -> None:
    """Put this package's Voilà template first on Jupyter's data path (`JUPYTER_PATH`)."""
    here = str(Path(__file__).parent)
    known = [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    if here not in known:
        os.environ["JUPYTER_PATH"] = os.pathsep.join([here, *known])


def serve(
    data: str,
    settings: str = "",
    ip: str = DEFAULT_IP,
    port: int = DEFAULT_PORT,
    token: str = "",
    today: str = "",
    out: TextIO = sys.stdout,
) -> int:
    """Serve the dashboard until interrupted (Ctrl-C); print the address with its token."""
    require("voila", "dashboard", "The dashboard")
    token = token or new_token()
    folder = run_folder("utilization-dashboard-")
    try:
        notebook = prepare(data, settings, folder, today, out)
        from tornado.ioloop import IOLoop
        from voila.app import Voila

        use_templates()
        app = Voila(config=voila_config(notebook, ip, port, token))
        app.initialize([str(notebook)])
        url = page_url(ip, port, token)

        def announce() -> None:  # runs once the server listens
            print(f"The units dashboard is at:\n    {url}\nStop it with Ctrl-C.", file=out)
            out.flush()

        IOLoop.current().add_callback(announce)
        app.start()
        return 0
    finally:
        shutil.rmtree(folder, ignore_errors=True)

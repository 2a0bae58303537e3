"""Running a parameterized template notebook in this process, with the outputs a kernel gives.

A kernel costs a process start, a second import of pandas, Altair and the package, a second
load of the data and a JSON round trip of every chart: most of a first report's time. The
package's own templates (`report.template`) only assign parameters, call the package and
display HTML and SVG bundles or print, so an IPython shell in this process gives the same
notebook: each cell runs with `InteractiveShell.run_cell` in a namespace emptied before the
notebook (as `%reset -f` empties a reused kernel's), `display(...)` becomes a `display_data`
output and a printed text a `stream` output, made from the same JSON a kernel would send
(`nbformat.v4.output_from_msg`'s fields), in order. The first error stops the run, as
papermill stops; `NotebookError` carries its name and value.

`runner.Renderer` decides when this is used: only for templates whose code cells are the
package's own, only without an executed notebook to write, and never inside a running
IPython (a JupyterLab kernel keeps its own shell).
"""

from __future__ import annotations

import atexit
import gc
import io
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import nbformat
from IPython.core.displayhook import DisplayHook
from IPython.core.displaypub import DisplayPublisher
from IPython.core.interactiveshell import InteractiveShell
from traitlets import Type
from traitlets.config import Config


class NotebookError(Exception):
    """A cell raised: the exception's class name and text, as a kernel reports them."""

    def __init__(self, ename: str, evalue: str) -> None:
        super().__init__(f"{ename}: {evalue}")
        self.ename = ename
        self.evalue = evalue


class _Outputs:
    """The outputs of the cell running now, built as nbclient builds them from the messages
    ipykernel sends: printed text is buffered per stream and sent, standard output first,
    before a display, a result, an error, a clear and at the end of the cell.
    """

    def __init__(self) -> None:
        self.cell: list[nbformat.NotebookNode] = []
        self.clear_pending = False
        self.error: tuple[str, str] | None = None
        self._buffered = {"stdout": "", "stderr": ""}

    def start(self, outputs: list[nbformat.NotebookNode]) -> None:
        """A new cell: its (empty) outputs list."""
        self.cell = outputs
        self.clear_pending = False
        self.error = None
        self._buffered = {"stdout": "", "stderr": ""}

    def _add(self, output: nbformat.NotebookNode) -> None:
        if self.clear_pending:
            self.cell.clear()
            self.clear_pending = False
        self.cell.append(output)

    def stream(self, name: str, text: str) -> None:
        """Text written to stdout or stderr, held until the next flush."""
        self._buffered[name] += text

    def flush(self) -> None:
        """One stream output per stream that holds text, stdout first."""
        for name, text in self._buffered.items():
            if text:
                self._add(nbformat.v4.new_output("stream", name=name, text=text))
        self._buffered = {"stdout": "", "stderr": ""}

    def display(self, data: dict[str, Any], metadata: dict[str, Any] | None) -> None:
        self.flush()
        self._add(
            nbformat.v4.new_output("display_data", data=_json(data), metadata=_json(metadata or {}))
        )

    def result(self, data: dict[str, Any], metadata: dict[str, Any], count: int) -> None:
        self.flush()
        self._add(
            nbformat.v4.new_output(
                "execute_result", data=_json(data), metadata=_json(metadata), execution_count=count
            )
        )

    def fail(self, ename: str, evalue: str, traceback: list[str]) -> None:
        self.flush()
        self.error = (ename, evalue)
        self._add(nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=traceback))

    def clear(self, wait: bool) -> None:
        self.flush()
        if wait:
            self.clear_pending = True
        else:
            self.cell.clear()
            self.clear_pending = False


def _json(value: dict[str, Any]) -> dict[str, Any]:
    """The value as a kernel message carries it: through JSON (tuples become lists, ...)."""
    carried: dict[str, Any] = json.loads(json.dumps(value))
    return carried


class _Publisher(DisplayPublisher):
    """`display(...)`: a display_data output of the running cell."""

    def publish(
        self,
        data: dict[str, Any],
        metadata: dict[str, Any] | None = None,
        source: Any = None,
        *,
        transient: dict[str, Any] | None = None,
        update: bool = False,
        **kwargs: Any,
    ) -> None:
        shell = self.shell
        assert isinstance(shell, _Shell)
        if update:  # a display updated in place: no template does this
            msg = "display updates are not supported outside a kernel"
            raise NotImplementedError(msg)
        shell.outputs.display(data, metadata)

    def clear_output(self, wait: bool = False) -> None:
        shell = self.shell
        assert isinstance(shell, _Shell)
        shell.outputs.clear(wait)


class _ResultHook(DisplayHook):
    """A cell's last expression: an execute_result output, no `Out[n]:` text."""

    def start_displayhook(self) -> None:
        pass

    def write_output_prompt(self) -> None:
        pass

    def write_format_data(
        self, format_dict: dict[str, Any], md_dict: dict[str, Any] | None = None
    ) -> None:
        shell = self.shell
        assert isinstance(shell, _Shell)
        shell.outputs.result(format_dict, md_dict or {}, self.prompt_count)

    def finish_displayhook(self) -> None:
        pass


class _Shell(InteractiveShell):
    """An IPython shell whose displays, results and errors are outputs of the running cell."""

    display_pub_class = Type(_Publisher)
    displayhook_class = Type(_ResultHook)

    def __init__(self, **kwargs: Any) -> None:
        self.outputs = _Outputs()
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]

    def _showtraceback(self, etype: type, evalue: BaseException, stb: list[str]) -> None:
        self.outputs.fail(str(etype.__name__), str(evalue), stb)

    def init_sys_modules(self) -> None:
        """The process's own `__main__` stays in sys.modules (multiprocessing's spawn reads
        it), as IPython's embedded shell leaves it.
        """


class _Stream(io.TextIOBase):
    """sys.stdout or sys.stderr while a notebook runs: stream outputs of the running cell."""

    def __init__(self, outputs: _Outputs, name: str) -> None:
        self._outputs = outputs
        self.name = name

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._outputs.stream(self.name, text)
        return len(text)


def available() -> bool:
    """True unless this process already runs an IPython shell (e.g. inside a kernel)."""
    return not InteractiveShell.initialized() or isinstance(InteractiveShell.instance(), _Shell)


def _shell() -> _Shell:
    if _Shell.initialized():
        shell = _Shell.instance()
    else:
        config = Config()
        config.HistoryManager.enabled = False  # nothing written to ~/.ipython
        shell = _Shell.instance(config=config)
        atexit.unregister(shell.atexit_operations)  # no history to save, nothing to clean
    assert isinstance(shell, _Shell)
    return shell


def execute(nb: nbformat.NotebookNode, env: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """Run the notebook's code cells in order, in this process; fill in their outputs and
    execution counts and return the notebook. `env`: environment variables set while it runs
    (as a kernel would have them). Raises `NotebookError` at the first cell that fails (its
    outputs, the error among them, are kept in the notebook).
    """
    shell = _shell()
    shell.reset(new_session=True)  # type: ignore[no-untyped-call]  # the last report's names too
    # The reset collects before it clears the names: collect the last report's objects now
    # (only what is not frozen is scanned), then freeze what is alive (modules, cached data)
    # so it is not scanned again (runner.RESET). Frozen, the last report's cycles would stay.
    gc.collect()
    gc.freeze()
    with environment(env or {}), _streams(shell.outputs):
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            cell.outputs = []
            shell.outputs.start(cell.outputs)
            cell.execution_count = shell.execution_count
            result = shell.run_cell(cell.source, store_history=True)  # type: ignore[no-untyped-call]
            shell.outputs.flush()
            if isinstance(result.error_in_exec, KeyboardInterrupt):
                raise KeyboardInterrupt
            if not result.success:
                ename, evalue = shell.outputs.error or ("Error", "the cell failed")
                raise NotebookError(ename, evalue)
    return nb


@contextmanager
def _streams(outputs: _Outputs) -> Iterator[None]:
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Stream(outputs, "stdout"), _Stream(outputs, "stderr")
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


@contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    """These environment variables set, the others as they were, until the block ends."""
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

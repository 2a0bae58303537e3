"""Units utilization reports for home- and community-based-services agencies.

`utilization.load(source)` reads, validates and matches a data source; `views.build_view`
makes a view's figures; `export.write` serializes them. The version comes from the
package metadata (pyproject.toml is the one place it is written).

The names below are imported when first used: a process that needs only part of the
package (the HTML and PDF helper, `report.convert`) does not import pandas for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from utilization._startup import defer_iri_grammar

defer_iri_grammar()  # before anything imports jsonschema (nbformat, Altair): 1 s per process

if TYPE_CHECKING:
    from utilization.dataset import Dataset
    from utilization.pipeline import load
    from utilization.settings import Settings

__all__ = ["Dataset", "Settings", "__version__", "load"]
_HOMES = {"Dataset": "dataset", "Settings": "settings", "load": "pipeline"}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        value: Any = _version()
    elif name in _HOMES:
        from importlib import import_module

        value = getattr(import_module(f"utilization.{_HOMES[name]}"), name)
    else:
        msg = f"module 'utilization' has no attribute {name!r}"
        raise AttributeError(msg)
    globals()[name] = value
    return value


def _version() -> str:
    """From the package metadata (importlib.metadata costs 60 ms to import)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("utilization")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"

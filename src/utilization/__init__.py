"""Units utilization reports for home- and community-based-services agencies.

`utilization.load(source)` reads, validates and matches a data source; `views.build_view`
makes a view's figures; `export.write` serializes them. The version comes from the
package metadata (pyproject.toml is the one place it is written), read when first asked for.
"""

from __future__ import annotations

from utilization._startup import defer_iri_grammar

defer_iri_grammar()  # before anything imports jsonschema (nbformat, Altair): 1 s per process

from utilization.dataset import Dataset  # noqa: E402
from utilization.pipeline import load  # noqa: E402
from utilization.settings import Settings  # noqa: E402

__all__ = ["Dataset", "Settings", "__version__", "load"]


def __getattr__(name: str) -> str:
    """`__version__`, from the package metadata (importlib.metadata costs 60 ms to import)."""
    if name != "__version__":
        msg = f"module 'utilization' has no attribute {name!r}"
        raise AttributeError(msg)
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("utilization")
    except PackageNotFoundError:  # run from a source tree that was never installed
        found = "0+unknown"
    globals()["__version__"] = found
    return found

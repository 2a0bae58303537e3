"""Batch runs: every report of a parameter set (`plan`), on local worker processes
(`workers`) or a Dask cluster (`cluster`), with dataset slices for remote workers
(`slices`), a manifest of fingerprints (`manifest`) and an index page (`index`); `run`
ties them together and is the `utilization batch` command.

The names below are imported from `run` when first used: the command line's parser
(`options`) needs none of the report stack they bring.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from utilization.batch.run import BatchResult, remove_temporary_files, run_batch

__all__ = ["BatchResult", "remove_temporary_files", "run_batch"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        msg = f"module 'utilization.batch' has no attribute {name!r}"
        raise AttributeError(msg)
    from utilization.batch import run

    value = getattr(run, name)
    globals()[name] = value
    return value

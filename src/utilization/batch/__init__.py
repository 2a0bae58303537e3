"""Batch runs: every report of a parameter set (`plan`), on local worker processes
(`workers`) or a Dask cluster (`cluster`), with dataset slices for remote workers
(`slices`), a manifest of fingerprints (`manifest`) and an index page (`index`); `run`
ties them together and is the `utilization batch` command.
"""

from utilization.batch.run import BatchResult, remove_temporary_files, run_batch

__all__ = ["BatchResult", "remove_temporary_files", "run_batch"]

"""Dataset slices: only the rows a group of reports needs, for workers on other machines."""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from dataclasses import replace
from pathlib import Path

from utilization import views
from utilization.dataset import Dataset
from utilization.files import fault, run_folder, write_atomic

SUFFIX = ".dataset.pickle"


def slice_dataset(dataset: Dataset, view: str, subjects: list[str]) -> Dataset:
    """The rows the reports of `view` about `subjects` read; other views get the whole dataset.

    Client reports keep their clients' authorizations, visits, payments and allocations;
    procedure reports those of their procedure codes. Reference tables, rejects and row counts
    stay whole, so every figure, count and text of a report is the same as from the full data.
    """
    column = views.get(view).batch_slice
    if column is None:
        return dataset
    wanted = set(subjects)
    visits = dataset.visits[dataset.visits[column].isin(wanted)]
    visit_ids = set(visits["visit_id"])
    allocations = dataset.allocations
    if allocations is not None:
        allocations = allocations[allocations["visit_id"].isin(visit_ids)]
    clients = dataset.clients
    if column == "client_id":
        clients = clients[clients["client_id"].isin(wanted)]
    return replace(
        dataset,
        clients=clients,
        authorizations=dataset.authorizations[dataset.authorizations[column].isin(wanted)],
        visits=visits,
        payments=dataset.payments[dataset.payments["visit_id"].isin(visit_ids)],
        allocations=allocations,
    )


def to_bytes(dataset: Dataset) -> bytes:
    """A dataset as bytes to ship to a worker."""
    return pickle.dumps(dataset, protocol=pickle.HIGHEST_PROTOCOL)


SLICES_PREFIX = "utilization-slices-"
"""The start of each worker process's folder of slices: `files.run_folder` adds the host and
the process id, so that a folder left by a worker killed outright is removed later."""

_folders: dict[int, Path] = {}
"""This process's folder of slices, by process id (a forked child makes its own)."""


def materialize(data: bytes, folder: Path | None = None) -> str:
    """Write slice bytes to the worker's temporary folder; return the path to pass as the
    notebooks' `data_slice` parameter (read by `pipeline.load_cached`). The file is this
    process's own (its name holds the bytes' hash): the task that wrote it removes it once
    its reports are made (`workers.run_task`).

    The default folder is this process's own, made private (0700, `tempfile.mkdtemp`) in
    the temporary folder by `files.run_folder` and named after this machine and process;
    a slice is unpickled, so nobody else may write there. A worker killed outright (out of
    memory, `kill -9`) cannot remove its files: the next worker on this machine to make its
    folder removes that of every ended process (`files.remove_ended`). A worker's folder
    stays, empty, while it runs, and is removed the same way after it ends.
    """
    folder = folder or own_folder()
    path = folder / f"{hashlib.sha256(data).hexdigest()[:20]}{SUFFIX}"
    if not path.is_file():
        write_atomic(path, data)
    return str(path)


def own_folder() -> Path:
    """This process's folder of slices (made on first use; `materialize`)."""
    pid = os.getpid()
    folder = _folders.get(pid)
    if folder is None or not folder.is_dir():
        try:
            folder = _folders[pid] = run_folder(SLICES_PREFIX)
        except OSError as exc:
            raise fault(exc, tempfile.gettempdir(), "make a folder for data slices in it") from None
    return folder

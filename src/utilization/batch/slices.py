"""Dataset slices: only the rows a group of reports needs, for workers on other machines."""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import tempfile
from dataclasses import replace
from pathlib import Path

from utilization import views
from utilization.dataset import Dataset
from utilization.exceptions import EnvironmentFault
from utilization.files import fault, write_atomic

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


def materialize(data: bytes, folder: Path | None = None) -> str:
    """Write slice bytes to the worker's temporary folder; return the path to pass as the
    notebooks' `data_slice` parameter (read by `pipeline.load_cached`). The file is this
    process's own (its name holds the bytes' hash and the process id): the task that wrote it
    removes it once its reports are made (`workers.run_task`).

    The default folder, in the shared temporary folder, is this user's own: made 0700, and
    used only when it is a real folder owned by this user that nobody else can write (a
    slice is unpickled, so a file planted there would run code).
    """
    folder = folder or private_folder(
        Path(tempfile.gettempdir()) / f"utilization-slices-{os.getuid()}"
    )
    path = folder / f"{hashlib.sha256(data).hexdigest()[:20]}-{os.getpid()}{SUFFIX}"
    if not path.is_file():
        write_atomic(path, data)
    return str(path)


def private_folder(folder: Path) -> Path:
    """`folder`, made 0700 if missing; EnvironmentFault unless it is a real folder of this
    user that no other user can write.
    """
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(folder)
    except OSError as exc:
        raise fault(exc, folder, "make the folder") from None
    mine = stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
    if not mine or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        msg = (
            f"{folder}: not a private folder of this user (a link, another user's, or "
            "writable by others); remove it, or set TMPDIR to a folder of your own"
        )
        raise EnvironmentFault(msg)
    return folder

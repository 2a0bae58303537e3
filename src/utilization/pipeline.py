"""One call from a data source to a matched dataset: read, validate, add remittances, match;
and the cache a reused kernel loads through.
"""

from __future__ import annotations

import functools
import pickle
from datetime import date
from pathlib import Path

from utilization import matching, sources, validation
from utilization.dataset import Dataset
from utilization.exceptions import InputError
from utilization.settings import Settings, load_settings

REMITTANCES = "remittances"  # a data folder's subfolder of 835 files, read with the data


def load(source: str | Path, settings: Settings | Path | str | None = None) -> Dataset:
    """Read `source` (folder, workbook, SQL URL or `demo`), validate it and match visits.

    Settings: a Settings object, a path to a settings file, or None for the data folder's
    `utilization.toml` (if any) and otherwise the defaults. A data folder's `remittances/`
    subfolder of X12 835 files adds their payments (`remittance.with_remittances`).
    """
    raw = sources.read_source(source)
    if not isinstance(settings, Settings):
        settings = load_settings(settings, raw.data_dir)
    dataset = validation.validate(raw, settings)
    data_dir = raw.data_dir
    del raw  # the tables as read are not needed any more: free them before matching
    if data_dir is not None and (data_dir / REMITTANCES).is_dir():
        from utilization.remittance.payments import with_remittances

        dataset = with_remittances(dataset, data_dir / REMITTANCES)
    return matching.match(dataset)


def load_cached(source: str, settings: str = "", data_slice: str = "") -> Dataset:
    """The dataset of `source`, loaded again only when one of its files changed.

    A reused kernel renders many reports: each loads through here and only the first pays.
    `data_slice`: a file a batch run wrote with the rows of its reports (`batch.slices`);
    it is read instead of the source (which then only names where the data came from).
    """
    if data_slice:
        return _read_slice(data_slice, Path(data_slice).stat().st_mtime_ns)
    path = Path(source)
    stamp: tuple[float, ...] = ()
    if path.exists():
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        stamp = tuple(p.stat().st_mtime_ns for p in files)
    elif source == "demo":
        stamp = (date.today().toordinal(),)
    return _cached_load(source, settings, stamp)


@functools.lru_cache(maxsize=4)
def _cached_load(source: str, settings: str, stamp: tuple[float, ...]) -> Dataset:
    """Load once per source, settings and modification times."""
    return load(source, settings or None)


@functools.lru_cache(maxsize=2)
def _read_slice(path: str, stamp: int) -> Dataset:
    """A dataset slice file, read once per file and modification time."""
    with open(path, "rb") as handle:
        dataset = pickle.load(handle)  # written by this package's own batch run
    if not isinstance(dataset, Dataset):
        msg = f"{path} is not a dataset slice written by a batch run"
        raise InputError(msg)
    return dataset

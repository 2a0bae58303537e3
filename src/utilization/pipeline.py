"""One call from a data source to a matched dataset: read, validate, add remittances, match;
and the cache a reused kernel loads through.
"""

from __future__ import annotations

import functools
import pickle
from datetime import date
from pathlib import Path

from utilization import matching, sources, validation
from utilization.dataset import Dataset, PreparedView
from utilization.exceptions import InputError
from utilization.packing import is_packed, read_packed
from utilization.settings import SETTINGS_FILE, Settings, load_settings

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
    # The tables as read are let go while they are checked (release), then the rest of them.
    dataset = validation.validate(raw, settings, release=True)
    data_dir = raw.data_dir
    del raw
    if data_dir is not None and (data_dir / REMITTANCES).is_dir():
        from utilization.remittance.payments import with_remittances

        dataset = with_remittances(dataset, data_dir / REMITTANCES)
    return matching.match(dataset)


def source_files(source: str | Path, settings: str | Path | None = None) -> list[Path]:
    """Every file `load(source, settings)` may read, sorted: for a folder its files (the
    tables, `utilization.toml`, anything else at the top, hidden files aside) and the 835
    files of its `remittances/`; for a workbook the workbook, the `utilization.toml` and the
    `remittances/` beside it; and the settings file when one is given. Sources without
    files (`demo`, a database) have only the settings file.
    """
    from utilization.remittance.x12 import remittance_files

    path = sources.on_disk(source)
    files: list[Path] = []
    if path is not None:
        folder = path if path.is_dir() else path.parent
        if path.is_dir():
            files += [p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")]
        else:
            files.append(path)
            if settings is None and (folder / SETTINGS_FILE).is_file():
                files.append(folder / SETTINGS_FILE)
        files += [p for p in remittance_files(folder / REMITTANCES) if p.is_file()]
    if settings:
        files.append(Path(settings))
    return sorted(dict.fromkeys(files))


def load_cached(source: str, settings: str = "", data_slice: str = "") -> Dataset:
    """The dataset of `source`, loaded again only when one of its files changed.

    A reused kernel renders many reports: each loads through here and only the first pays.
    `data_slice`: a file a batch run wrote with the rows of its reports (`batch.slices`),
    or a view's figures made in parts (`dataset.PreparedView`, whose context is then the
    dataset); it is read instead of the source (which then only names where the data came
    from).
    """
    if data_slice:
        held = _read_slice(data_slice, Path(data_slice).stat().st_mtime_ns)
        return held if isinstance(held, Dataset) else held.context
    files = source_files(source, settings or None)
    stamp: tuple[object, ...] = tuple((str(p), p.stat().st_mtime_ns) for p in files)
    if source == "demo":
        stamp += (date.today().toordinal(),)
    return _cached_load(source, settings, stamp)


def prepared_slice(data_slice: str) -> PreparedView | None:
    """The figures a `data_slice` file holds when it holds a view made in parts
    (`dataset.PreparedView`), else None (a dataset slice, or no file given).
    """
    if not data_slice:
        return None
    held = _read_slice(data_slice, Path(data_slice).stat().st_mtime_ns)
    return None if isinstance(held, Dataset) else held


@functools.lru_cache(maxsize=4)
def _cached_load(source: str, settings: str, stamp: tuple[object, ...]) -> Dataset:
    """Load once per source, settings and modification times."""
    return load(source, settings or None)


@functools.lru_cache(maxsize=2)
def _read_slice(path: str, stamp: int) -> Dataset | PreparedView:
    """A dataset slice or prepared view file, read once per file and modification time."""
    if is_packed(Path(path)):  # written compressed by a run in parts (`packing`)
        held = read_packed(Path(path))
    else:
        with open(path, "rb") as handle:
            held = pickle.load(handle)  # written by this package's own batch run or report
    if not isinstance(held, Dataset | PreparedView):
        msg = f"{path} is not a dataset slice or a view's figures written by a batch run"
        raise InputError(msg)
    return held

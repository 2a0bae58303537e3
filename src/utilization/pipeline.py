"""One call from a data source to a matched dataset: read, validate, add remittances, match;
and the cache a reused kernel loads through.
"""

from __future__ import annotations

import functools
import pickle
from datetime import date
from pathlib import Path

from utilization import matching, sources, validation
from utilization.dataset import Dataset, PreparedFigures, PreparedView, WithDerived
from utilization.exceptions import EnvironmentFault, InputError
from utilization.files import fault
from utilization.packing import is_mapped, is_packed, read_mapped, read_packed, write_mapped
from utilization.settings import SETTINGS_FILE, Settings, load_settings

REMITTANCES = "remittances"  # a data folder's subfolder of 835 files, read with the data
BYTES_PER_VISIT = 650
"""Peak resident memory per visit of a data set held whole, for `check_fits` (10M demo visits
measured: 5.87 GB loaded and the agency view made of it; 6.31 GB loaded and written for the
dashboard's kernels; benchmarks/README.md)."""


def has_remittances(folder: Path) -> bool:
    """Whether a data folder has a `remittances/` subfolder of 835 files; EnvironmentFault
    naming the data folder when it cannot be looked into (its permissions), InputError when
    `remittances` there is a file (its 835 payments would be left out without a word).
    """
    path = folder / REMITTANCES
    try:
        if path.is_dir():
            return True
        there = path.exists() or path.is_symlink()
    except OSError as exc:
        raise fault(exc, folder, "look into the data folder") from None
    if there:
        msg = (
            f"{path}: a file, not a folder; the 835 files go in a folder of that name in the "
            "data folder (move or rename the file)"
        )
        raise InputError(msg)
    return False


def load(source: str | Path, settings: Settings | Path | str | None = None) -> Dataset:
    """Read `source` (folder, workbook, SQL URL or `demo`), validate it and match visits.

    Settings: a Settings object, a path to a settings file, or None for the data folder's
    `utilization.toml` (if any) and otherwise the defaults. A data folder's `remittances/`
    subfolder of X12 835 files adds their payments (`remittance.with_remittances`).
    """
    check_fits(source)
    raw = sources.read_source(source)
    if not isinstance(settings, Settings):
        settings = load_settings(settings, raw.data_dir)
    # The tables as read are let go while they are checked (release), then the rest of them.
    dataset = validation.validate(raw, settings, release=True)
    data_dir = raw.data_dir
    del raw
    if data_dir is not None and has_remittances(data_dir):
        from utilization.remittance.payments import with_remittances

        dataset = with_remittances(dataset, data_dir / REMITTANCES)
    return matching.match(dataset)


def check_fits(source: str | Path) -> None:
    """EnvironmentFault, before anything is read, when a data folder's visits held whole in
    memory (`BYTES_PER_VISIT` each) need more than this machine has available (`MemAvailable`
    and the process's cgroup limit), rather than the system ending the process when memory
    runs out. Sources whose rows are not counted ahead (a workbook, a database, the demo)
    and systems that do not say what is available are not checked.
    """
    path = sources.on_disk(source)
    if path is None or not path.is_dir():
        return
    visits = sources.folder_tables(path).get("visits")
    available = _available_memory()
    if visits is None or available is None:
        return
    rows = sources.table_rows(visits)
    need = rows * BYTES_PER_VISIT
    if need > available:
        msg = (
            f"{visits}: about {rows:,} visits; held whole in memory they need about "
            f"{need / 1e9:.1f} GB and this machine has {available / 1e9:.1f} GB available. "
            "The commands `export`, `report`, `batch`, `validate` and `check-schedule` cut such "
            "a folder into parts by client by themselves (do not give --partitions 0); the "
            "dashboard and `utilization.load` hold it whole: give them a smaller extract "
            "(fewer months or clients)"
        )
        raise EnvironmentFault(msg)


def _available_memory() -> int | None:
    """Bytes of memory this process may still take: the system's `MemAvailable`, less when
    its cgroup (a container's limit) leaves less; None when the system does not say.
    """
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            fields = dict(line.split(":", 1) for line in handle if ":" in line)
        available = int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return None
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text(encoding="ascii").strip()
        used = Path("/sys/fs/cgroup/memory.current").read_text(encoding="ascii").strip()
    except OSError:
        return available
    if limit.isdigit() and used.isdigit():
        available = min(available, max(int(limit) - int(used), 0))
    return available


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
        held = _held(data_slice)
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
    held = _held(data_slice)
    return None if isinstance(held, Dataset) else held


@functools.lru_cache(maxsize=4)
def _cached_load(source: str, settings: str, stamp: tuple[object, ...]) -> Dataset:
    """Load once per source, settings and modification times."""
    return load(source, settings or None)


def write_shared(path: Path, dataset: Dataset) -> None:
    """Write a loaded data set, with what validation and matching derived (catalog rows,
    status codes ...), for the processes that map it (`load_cached` with a `data_slice`: a
    batch's local workers, the dashboard's kernels): the system's file cache holds one copy
    for all of them, and none derives those values again. EnvironmentFault when it cannot
    be written (TMPDIR full).
    """
    write_mapped(path, WithDerived.of(dataset))


def _held(path: str) -> Dataset | PreparedView:
    """What the slice or prepared view file at `path` holds (`_read_slice`, read once while
    the file is unchanged).
    """
    return _read_slice(path, Path(path).stat().st_mtime_ns)


@functools.lru_cache(maxsize=3)
def _read_slice(path: str, stamp: int) -> Dataset | PreparedView:
    """A dataset slice or prepared view file, read once per file and modification time; a
    view written without its context (`PreparedFigures`) with the context its file names,
    read once for all the views that share it.
    """
    if is_packed(Path(path)):  # written compressed by a run in parts (`packing`)
        held = read_packed(Path(path))
    elif is_mapped(Path(path)):  # loaded data shared by the dashboard's or a batch's kernels
        held = read_mapped(Path(path))
        if isinstance(held, WithDerived):
            held = held.restored()
    else:
        with open(path, "rb") as handle:
            held = pickle.load(handle)  # written by this package's own batch run or report
    if isinstance(held, PreparedFigures):
        file = held.context_file
        try:
            context = _held(file)
        except OSError as exc:
            msg = f"{path}: cannot read the context it names, {file} ({exc.strerror})"
            raise InputError(msg) from None
        if not isinstance(context, Dataset):
            msg = f"{path}: the context it names, {file}, is not a data set"
            raise InputError(msg)
        held = PreparedView(held.request, held.figures, context)
    if not isinstance(held, Dataset | PreparedView):
        msg = f"{path} is not a dataset slice or a view's figures written by a batch run"
        raise InputError(msg)
    return held

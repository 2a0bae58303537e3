"""Writing files safely (atomic, never through a planted link), locks, and fingerprints.

Every file the product writes goes through `write_atomic`: a new temporary file with a
unique random name in the same folder (`O_EXCL`, never following a link), written and
synced, then renamed over the target, so a reader never sees half a file and a link planted
at the target is replaced, not followed. Inside a folder tree the product owns (a batch's
output set: `within=`), no folder on the way is followed through a symbolic link either.
The machine refusing (permissions, a full disk, a read-only file system) is one
`EnvironmentFault` naming the file and what to do.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import re
import secrets
import shutil
import socket
import stat
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TextIO

from utilization.exceptions import EnvironmentFault, UsageError

TEMPORARY_SUFFIX = ".utilization.tmp"
_TEMPORARY = re.compile(r"^\.(.+)\.[0-9a-f]{16}" + re.escape(TEMPORARY_SUFFIX) + "$")
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def temporary_name(name: str) -> str:
    """A fresh name for a temporary file beside `name`: `.<name>.<16 hex>.utilization.tmp`."""
    return f".{name}.{secrets.token_hex(8)}{TEMPORARY_SUFFIX}"


def is_temporary(name: str, of: str | None = None) -> bool:
    """Whether a file name is one of `temporary_name`'s (what clean-up may delete); with
    `of`, one made for the file named `of`.
    """
    found = _TEMPORARY.match(name)
    return found is not None and (of is None or found.group(1) == of)


def fault(exc: OSError, path: Path | str, action: str) -> EnvironmentFault:
    """One clear message for an OSError while doing `action` (e.g. "write") on `path`."""
    code = exc.errno
    if code in (errno.EACCES, errno.EPERM):
        advice = "permission denied; check the permissions of the file and its folder"
    elif code == errno.EROFS:
        advice = "the file system is read-only; choose a writable folder"
    elif code in (errno.ENOSPC, errno.EDQUOT):
        advice = "the disk is full (or the quota used up); free some space and run again"
    elif code == errno.ELOOP:
        advice = (
            "it is a symbolic link (or a folder on the way is), which is not followed here; "
            "remove the link and run again"
        )
    elif code == errno.ENOENT:
        advice = "it does not exist"
    elif code == errno.ENOTDIR:
        advice = "a part of the path is a file, not a folder"
    elif code == errno.EISDIR:
        advice = "it is a folder, not a file"
    elif code == errno.EEXIST:
        advice = "a file of that name is in the way of a folder"
    else:
        advice = exc.strerror or str(exc) or exc.__class__.__name__
    return EnvironmentFault(f"{path}: cannot {action}: {advice}")


def write_atomic(
    path: Path,
    data: str | bytes | Iterable[str | bytes | memoryview],
    *,
    within: Path | None = None,
    new_folders: bool = True,
) -> None:
    """Write `data` (text as UTF-8; or pieces of text or bytes, written one after the other)
    to `path`: a temporary file of a fresh random name in the same folder (created with
    O_EXCL, never through a link), fsync, rename over `path`.

    A reader never sees a half-written file, even if the run is killed; a symbolic link at
    `path` is replaced, not followed. Missing folders are made. With `within` (a folder
    holding `path`), no folder from `within` down to `path` may be a symbolic link: the
    product's own output tree is never redirected elsewhere. With `new_folders` False the
    folder must be there already (a work folder that another process may have removed is
    not made again). OSError becomes EnvironmentFault naming the file. A device, pipe
    or socket at `path` (or a link to one: `/dev/stdout`) is left as it is: UsageError.
    """
    path = Path(path)
    pieces = [data] if isinstance(data, (str, bytes)) else data
    try:
        if new_folders:
            folder = open_folder(path.parent, within)
        else:
            folder = os.open(path.parent, _DIRECTORY)
    except OSError as exc:
        raise fault(exc, path.parent, "make or open the folder") from None
    temporary = temporary_name(path.name)
    try:
        _check_replaceable(path, folder)
        try:
            handle = os.open(temporary, _NEW_FILE, 0o666, dir_fd=folder)  # the umask applies
            try:
                for piece in pieces:
                    _write_all(handle, piece.encode("utf-8") if isinstance(piece, str) else piece)
                os.fsync(handle)
            finally:
                os.close(handle)
            os.replace(temporary, path.name, src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException:
            with suppress(OSError):
                os.unlink(temporary, dir_fd=folder)
            raise
        _sync_folder(folder)
    except OSError as exc:
        raise fault(exc, path, "write") from None
    finally:
        os.close(folder)


_SPECIAL = {
    stat.S_IFCHR: "a device",
    stat.S_IFBLK: "a device",
    stat.S_IFIFO: "a pipe",
    stat.S_IFSOCK: "a socket",
}


def _check_replaceable(path: Path, folder: int) -> None:
    """UsageError when `path` (in the open `folder`) is a device, pipe or socket, or a
    symbolic link to one: renaming a file over it would take it away (`/dev/null` run as
    root) instead of writing to it. A regular file, a link to one and a dangling link are
    replaced; nothing there is fine.
    """
    try:
        found = os.stat(path.name, dir_fd=folder, follow_symlinks=False)
        if stat.S_ISLNK(found.st_mode):
            found = os.stat(path.name, dir_fd=folder)  # what it links to
    except OSError:  # nothing there, or a dangling link: nothing is taken away
        return
    kind = _SPECIAL.get(stat.S_IFMT(found.st_mode))
    if kind is not None:
        msg = (
            f"{path}: cannot write there: it is {kind}, not a file, and is left as it is; "
            "give the path of a file"
        )
        raise UsageError(msg)


def _write_all(handle: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        written = os.write(handle, view)
        view = view[written:]


def _sync_folder(folder: int) -> None:
    """Make the rename durable (best effort: some file systems cannot sync a folder)."""
    try:
        os.fsync(folder)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP):
            raise


def open_folder(folder: Path, within: Path | None = None) -> int:
    """A file descriptor of `folder`, made if missing (the caller closes it).

    Without `within`, the path is resolved as the system does (a link the user chose is
    fine). With `within`, each folder below `within` is made or opened without following
    a symbolic link (ELOOP when one is there).
    """
    folder = Path(folder)
    if within is None:
        folder.mkdir(parents=True, exist_ok=True)
        return os.open(folder, _DIRECTORY)
    within = Path(within)
    parts = folder.relative_to(within).parts  # ValueError: a bug of the caller
    within.mkdir(parents=True, exist_ok=True)
    current = os.open(within, _DIRECTORY)
    try:
        for part in parts:
            with suppress(FileExistsError):
                os.mkdir(part, 0o777, dir_fd=current)
            try:
                following = os.open(part, _DIRECTORY | os.O_NOFOLLOW, dir_fd=current)
            except OSError as exc:
                if stat.S_ISLNK(os.lstat(part, dir_fd=current).st_mode):
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP)) from None
                raise exc from None
            os.close(current)
            current = following
    except BaseException:
        os.close(current)
        raise
    return current


def ensure_folder(folder: Path, within: Path | None = None) -> Path:
    """Make `folder` (see `open_folder`); EnvironmentFault when the machine refuses."""
    try:
        os.close(open_folder(folder, within))
    except OSError as exc:
        raise fault(exc, folder, "make or open the folder") from None
    return Path(folder)


def open_append(path: Path) -> TextIO:
    """A text file to append lines to, created if missing, never through a symbolic link."""
    try:
        handle = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o666)
    except OSError as exc:
        raise fault(exc, path, "open for writing") from None
    return os.fdopen(handle, "a", encoding="utf-8")


@contextmanager
def locked(path: Path, holder: str, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold an exclusive lock on the file `path` (made if missing; never truncated, never
    through a symbolic link) while the block runs; the system drops it when the process ends,
    so a killed run never leaves a stale lock.

    When another process holds it: wait up to `wait_seconds`, then EnvironmentFault saying
    that `holder` (e.g. "another import-835") is at work.
    """
    try:
        handle = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        raise fault(exc, path, "open the lock file") from None
    try:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    waited = f" (waited {wait_seconds:g} s)" if wait_seconds else ""
                    msg = (
                        f"{holder} is writing into {path.parent}{waited}; wait for it to "
                        "finish and run again"
                    )
                    raise EnvironmentFault(msg) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(handle)


def remove_temporary(folder: Path) -> int:
    """Delete the product's own temporary files (`temporary_name`) below `folder`, which
    a killed run left behind; never another file, never through a symbolic link. Their count.
    """
    count = 0
    for root, _, names in os.walk(folder):  # never descends into a linked folder
        for name in names:
            path = Path(root) / name
            if is_temporary(name) and stat.S_ISREG(os.lstat(path).st_mode):
                path.unlink(missing_ok=True)
                count += 1
    return count


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's bytes, as hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_folder(prefix: str) -> Path:
    """A new private folder (0700) in TMPDIR for one run's temporary files, named
    `<prefix><host>-<pid>-<random>`; first, this user's folders of the same prefix made on
    this machine by a process that has ended are removed (`remove_ended`). The run removes
    its own folder when it ends; one killed (out of memory, `kill -9`) cannot, and its
    files (gigabytes, for large data) are removed by the next run instead.
    """
    remove_ended(prefix)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{socket.gethostname()}-{os.getpid()}-"))


def remove_ended(prefix: str) -> list[Path]:
    """Remove this user's folders of `run_folder(prefix)` in TMPDIR whose process, on this
    machine, has ended; the folders removed. A folder another machine made (a shared TMPDIR),
    another user's, a link, or one whose process still runs is left alone.
    """
    host = socket.gethostname()
    removed = []
    for folder in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        made_by, pid, _ = [*folder.name[len(prefix) :].rsplit("-", 2), "", ""][:3]
        try:
            info = folder.lstat()
        except OSError:
            continue
        if (
            made_by != host
            or not pid.isdigit()
            or not stat.S_ISDIR(info.st_mode)
            or info.st_uid != os.getuid()
            or process_running(int(pid))
        ):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def process_running(pid: int) -> bool:
    """Whether a process `pid` runs on this machine (another user's counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True

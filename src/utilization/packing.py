"""Temporary files of a run, compressed: an object pickled with its data buffers apart, each
buffer compressed, the whole checked by a CRC-32 when it is read back; or mapped: the buffers
left as they are, for processes that read one large object at once (`write_mapped`).

The parts of a cut data folder (`partitions`) are sequences of records; the datasets a batch
run prepares in parts (`batch.parts`) and the figures of a report made in parts
(`dataset.PreparedView`) are one record after `MAGIC`. A 1M-visit part shrinks about 8 times
(zstd, level 1) for about the time writing the rest would take.
"""

from __future__ import annotations

import io
import mmap
import os
import pickle
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from utilization.exceptions import InputError
from utilization.files import write_atomic

HEADER = struct.Struct("<QI")
"""Before each record: its size and its CRC-32 (zstd's frames as Arrow writes them carry no
checksum: a changed byte could decode to other values)."""
CODEC, LEVEL = "zstd", 1
"""How the data buffers are compressed: a batch of visits shrinks about 8 times (the part files
of 50M visits: 1.4 GB instead of 12 GB in TMPDIR) for about the same time (a 1M-visit batch
takes 0.3 s of a core to compress; writing the rest would take about as much where the disk
cache takes 450 MB/s, more when it is under pressure)."""
MAGIC = b"utilization packed 1\n"
"""The first bytes of a file holding one packed object (`write_packed`)."""


def packed(value: object) -> bytes:
    """`HEADER`, then the record of `value`: it pickled without its data, and each of its data
    buffers (column values, Arrow text) compressed, with its size.
    """
    buffers: list[pickle.PickleBuffer] = []
    pickled = pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    codec = pa.Codec(CODEC, compression_level=LEVEL)
    data = []
    for buffer in buffers:
        raw = buffer.raw()
        data.append((codec.compress(raw, asbytes=True), raw.nbytes))
    record = pickle.dumps((pickled, data), protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(record), zlib.crc32(record)) + record


def unpacked(record: bytes, codec: pa.Codec) -> Any:
    """The object of a record of `packed` (its buffers writable)."""
    pickled, data = pickle.loads(record)
    buffers = [codec.decompress(values, size) for values, size in data]
    return pickle.loads(pickled, buffers=buffers)


def write_packed(path: Path, value: object, *, new_folders: bool = True) -> None:
    """Write `value` packed to `path` (`MAGIC`, then its record), atomically."""
    write_atomic(path, [MAGIC, packed(value)], new_folders=new_folders)


def is_packed(path: Path) -> bool:
    """Whether the file at `path` holds a packed object (`write_packed`)."""
    with path.open("rb") as handle:
        return handle.read(len(MAGIC)) == MAGIC


def read_packed(path: Path) -> Any:
    """The object `write_packed` wrote to `path`; InputError when the file is not as it was
    written (cut short, changed), OSError when it cannot be read.
    """
    changed = f"{path} is not as this run wrote it: was it changed?"
    with path.open("rb") as handle:
        found = list(records(handle, changed)) if handle.read(len(MAGIC)) == MAGIC else []
    if len(found) != 1:
        raise InputError(f"{changed} (it is cut short or not a packed file)")
    return found[0]


def records(handle: BinaryIO, changed: str) -> Iterator[Any]:
    """The objects of the records (`packed`) from the handle's position to the file's end;
    InputError `changed` followed by why, when a record is cut short, changed or cannot be
    read back.
    """
    codec = pa.Codec(CODEC)
    end = os.fstat(handle.fileno()).st_size
    while head := handle.read(HEADER.size):
        size, check = HEADER.unpack(head) if len(head) == HEADER.size else (end + 1, 0)
        if size > end - handle.tell():
            raise InputError(f"{changed} (it is cut short)")
        record = handle.read(size)
        if zlib.crc32(record) != check:
            raise InputError(f"{changed} (its bytes changed)")
        try:
            value = unpacked(record, codec)
        except (pickle.UnpicklingError, EOFError, pa.ArrowException, OSError, ValueError):
            raise InputError(f"{changed} (it cannot be read back)") from None
        yield value


MAPPED = b"utilization mapped 1\n"
"""The first bytes of a file holding one mapped object (`write_mapped`)."""
ALIGN = 64
"""Where each buffer of a mapped file starts: a multiple of this many bytes (as numpy and Arrow
align their own)."""
MAPPED_HEADER = struct.Struct("<QQ")


def write_mapped(path: Path, value: object, *, new_folders: bool = True) -> None:
    """Write `value` to `path`, atomically, so that processes reading it (`read_mapped`) share
    its data instead of each holding a copy: `MAPPED`, the sizes of the layout and of the
    whole file, the layout (`value` pickled without its data, and where each of its data
    buffers is), then each buffer as it is in memory, uncompressed, at a multiple of `ALIGN`.

    The dashboard's kernels and a batch's local workers read the loaded data set this way:
    each kernel maps the file, and the system's file cache holds its columns once for all.
    """
    buffers: list[pickle.PickleBuffer] = []
    layout_of = io.BytesIO()
    _MappedPickler(layout_of, protocol=5, buffer_callback=buffers.append).dump(value)
    pickled = layout_of.getvalue()
    raws = [buffer.raw() for buffer in buffers]
    # The layout's own size depends on the offsets it holds: they are counted from the end of
    # a layout written with the largest offsets first, and the layout padded to that size.
    start = len(MAPPED) + MAPPED_HEADER.size
    spans = [(2**63 - 1, raw.nbytes) for raw in raws]
    room = len(pickle.dumps((pickled, spans), protocol=pickle.HIGHEST_PROTOCOL))
    at = _aligned(start + room)
    places = []
    for raw in raws:
        places.append((at, raw.nbytes))
        at = _aligned(at + raw.nbytes)
    layout = pickle.dumps((pickled, places), protocol=pickle.HIGHEST_PROTOCOL)
    total = places[-1][0] + places[-1][1] if places else start + len(layout)
    pieces: list[bytes | memoryview] = [MAPPED, MAPPED_HEADER.pack(len(layout), total), layout]
    written = start + len(layout)
    for (offset, _), raw in zip(places, raws, strict=True):
        pieces.append(bytes(offset - written))
        pieces.append(raw)
        written = offset + raw.nbytes
    write_atomic(path, pieces, new_folders=new_folders)


class _MappedPickler(pickle.Pickler):
    """numpy pickles date-time arrays inside the pickle, not as a buffer apart (which a
    mapped file reads in place); written here as their int64 values, viewed back on reading.
    """

    def reducer_override(self, obj: Any) -> Any:
        if (
            type(obj) is np.ndarray
            and obj.dtype.kind in "mM"
            and (obj.flags.c_contiguous or obj.flags.f_contiguous)
        ):
            return _viewed, (obj.view(np.int64), obj.dtype.str)
        return NotImplemented


def _viewed(values: npt.NDArray[np.int64], dtype: str) -> npt.NDArray[Any]:
    """The int64 `values` of a date-time array viewed as its `dtype` again (no copy)."""
    return values.view(np.dtype(dtype))


def _aligned(offset: int) -> int:
    return -(-offset // ALIGN) * ALIGN


def is_mapped(path: Path) -> bool:
    """Whether the file at `path` holds a mapped object (`write_mapped`)."""
    with path.open("rb") as handle:
        return handle.read(len(MAPPED)) == MAPPED


def read_mapped(path: Path) -> Any:
    """The object `write_mapped` wrote to `path`, its data buffers in a private mapping of the
    file: nothing is copied until it is used, pages read are the file cache's (shared with
    every process reading the file), and a value changed in place is this process's own
    copy (the file never changes). InputError when the file is cut short or not such a file.

    No checksum is computed: that would read every page of a file that may hold gigabytes.
    The file is written in a private folder of the run that reads it.
    """
    changed = f"{path} is not as this run wrote it: was it changed?"
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        head = handle.read(len(MAPPED) + MAPPED_HEADER.size)
        if len(head) < len(MAPPED) + MAPPED_HEADER.size or not head.startswith(MAPPED):
            raise InputError(f"{changed} (it is cut short or not a mapped file)")
        layout_size, total = MAPPED_HEADER.unpack(head[len(MAPPED) :])
        if total != size:
            why = "it is cut short" if total > size else "it is longer than written"
            raise InputError(f"{changed} ({why})")
        memory = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_COPY)
    view = memoryview(memory)
    start = len(head)
    try:
        pickled, places = pickle.loads(view[start : start + layout_size])
        return pickle.loads(pickled, buffers=[view[at : at + n] for at, n in places])
    except (  # what unpickling bytes that are not what was written raises
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        OverflowError,
        AttributeError,
        ImportError,
        IndexError,
        KeyError,
        pa.ArrowException,
    ):
        raise InputError(f"{changed} (it cannot be read back)") from None

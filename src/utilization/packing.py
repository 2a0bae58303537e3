"""Temporary files of a run, compressed: an object pickled with its data buffers apart, each
buffer compressed, the whole checked by a CRC-32 when it is read back.

The parts of a cut data folder (`partitions`) are sequences of records; the datasets a batch
run prepares in parts (`batch.parts`) and the figures of a report made in parts
(`dataset.PreparedView`) are one record after `MAGIC`. A 1M-visit part shrinks about 8 times
(zstd, level 1) for about the time writing the rest would take.
"""

from __future__ import annotations

import os
import pickle
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

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

"""Temporary files packed (`packing`): what is written is what is read, smaller, and a file
that is not as written is said, never read as something else.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from utilization import packing
from utilization.batch import parts as batch_parts
from utilization.dataset import VISIT_KEYS
from utilization.exceptions import InputError
from utilization.parameters import Request
from utilization.partitions import PartJob, cut, part_file, work_folder
from utilization.period import Period
from utilization.pipeline import load_cached
from utilization.selection import visit_keys
from utilization.settings import load_settings


@pytest.fixture(scope="module")
def data(demo_folder: Callable[..., Path]) -> Path:
    return demo_folder(clients=8, today=date(2026, 11, 23))


def test_a_prepared_part_is_packed_smaller_and_read_back_whole(data: Path) -> None:
    """A batch's prepared part (`prepare_part`) is written packed, at most a third of its
    pickle, and reads back (as a report's data slice too) with the same frames and its
    visits' rows in the whole data set.
    """
    request = Request("client", Period(date(2026, 10, 1), date(2026, 12, 31)))
    with work_folder() as work:
        job = PartJob(cut(data, 2, work), 1, load_settings(None, data), request)
        made = batch_parts.prepare_part(job)
        path = Path(made.file)
        assert path == part_file(work, batch_parts.DATASET, 1)
        assert packing.is_packed(path)
        dataset = packing.read_packed(path)
        plain = pickle.dumps(dataset, protocol=pickle.HIGHEST_PROTOCOL)
        assert path.stat().st_size * 3 < len(plain)
        again = load_cached("", "", str(path))  # as a template reads its data slice
    for name in ("clients", "authorizations", "visits", "payments"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(dataset, name))
    keys = visit_keys(again)
    assert len(keys) == len(again.visits) > 0
    assert np.all(np.diff(keys) > 0)
    assert keys[0] > 0  # part 1's first visit is not the first row of the whole table
    assert VISIT_KEYS in again._derived


PACKED = (packing.write_packed, packing.read_packed)
MAPPED = (packing.write_mapped, packing.read_mapped)


@pytest.mark.parametrize(
    ("written", "damage", "why"),
    [
        (PACKED, lambda b: b[:-1], "it is cut short"),
        (PACKED, lambda b: b[:10], "it is cut short or not a packed file"),
        (PACKED, lambda b: b"not packed" + b[10:], "it is cut short or not a packed file"),
        (PACKED, lambda b: b[:-5] + bytes([b[-5] ^ 1]) + b[-4:], "its bytes changed"),
        (MAPPED, lambda b: b[:-1], "it is cut short"),
        (MAPPED, lambda b: b + b"\0", "it is longer than written"),
        (MAPPED, lambda b: b[:10], "it is cut short or not a mapped file"),
        (MAPPED, lambda b: b"not mapped" + b[10:], "it is cut short or not a mapped file"),
        (MAPPED, lambda b: b[:40] + b"\xff" * 40 + b[80:], "it cannot be read back"),
    ],
    ids=[
        "packed-last-byte",
        "packed-magic-only",
        "packed-other-file",
        "packed-changed-byte",
        "mapped-last-byte",
        "mapped-longer",
        "mapped-magic-only",
        "mapped-other-file",
        "mapped-layout-changed",
    ],
)
def test_a_file_not_as_written_is_said(
    tmp_path: Path,
    written: tuple[Callable[[Path, object], None], Callable[[Path], Any]],
    damage: Callable[[bytes], bytes],
    why: str,
) -> None:
    """A packed or mapped file cut short, grown, replaced or changed is an InputError saying
    which and how, never read as something else.
    """
    write, read = written
    path = tmp_path / "value"
    write(path, {"frame": pd.DataFrame({"a": np.arange(1000)})})
    assert read(path)["frame"]["a"].sum() == 499500
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(InputError) as raised:
        read(path)
    assert str(raised.value) == f"{path} is not as this run wrote it: was it changed? ({why})"


def _mapped_from(path: Path, address: int) -> bool:
    """Whether `address` lies in a mapping of the file at `path` in this process (Linux)."""
    for line in Path("/proc/self/maps").read_text().splitlines():
        span, *_, name = line.split(maxsplit=5)
        low, high = (int(x, 16) for x in span.split("-"))
        if name == str(path) and low <= address < high:
            return True
    return False


def test_a_mapped_dataset_reads_back_whole_from_the_file_itself(data: Path, tmp_path: Path) -> None:
    """A data set written mapped (`write_mapped`, as the dashboard writes its loaded data)
    reads back with the same frames; its columns, date-times too, are not copies but the
    file's pages (each kernel reading it shares them), aligned as numpy aligns its own; and a
    value changed in place changes this process's copy only, never the file.
    """
    dataset = load_cached(str(data))
    path = tmp_path / "dataset.pickle"
    packing.write_mapped(path, dataset)
    assert packing.is_mapped(path) and not packing.is_packed(path)
    again = load_cached("", "", str(path))  # as the dashboard's kernels read it
    for name in ("clients", "procedures", "authorizations", "visits", "payments", "allocations"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(dataset, name))
    assert again.source == dataset.source
    minutes = again.visits["minutes"].to_numpy()
    assert minutes.ctypes.data % packing.ALIGN == 0
    assert _mapped_from(path, minutes.ctypes.data)
    for dates in (again.visits["service_date"].array, again.visits["start"].array):
        assert _mapped_from(path, dates._ndarray.ctypes.data)  # numpy pickles them in-band
    text = again.visits["visit_id"].array._pa_array.chunks[0].buffers()[2]
    assert _mapped_from(path, text.address)

    numbers = np.arange(1000, dtype=np.int64)
    packing.write_mapped(tmp_path / "numbers", {"numbers": numbers})
    held = packing.read_mapped(tmp_path / "numbers")["numbers"]
    held[:10] = -1
    assert held[:11].tolist() == [-1] * 10 + [10]
    assert packing.read_mapped(tmp_path / "numbers")["numbers"].sum() == numbers.sum()

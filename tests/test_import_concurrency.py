"""Several `import-835` into one data folder at once: no payment lost, none doubled."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

from remittance_data import march_835
from test_remittance_pipeline import _folder

EARLIER = 30_000  # payments already in payments.csv: each import takes a while to rewrite it


def test_imports_at_once_lose_and_double_no_payment(tmp_path: Path) -> None:
    """Five imports started together (four checks, and the first check twice) wait for each
    other on the data folder's lock: every check's matched lines (four of its six) are in
    payments.csv exactly once, with the earlier rows, and the counts the commands print add
    up.
    """
    folder = _folder(tmp_path)
    with (folder / "payments.csv").open("w", encoding="utf-8") as handle:
        handle.write("visit_id,insurance_paid,remittance_key\n")
        handle.writelines(f"V1,0.01,earlier{i}\n" for i in range(EARLIER))
    checks = [f"EFT{i}" for i in range(4)]
    files = []
    for check in checks:
        path = tmp_path / f"{check}.835"
        path.write_text(march_835().replace("EFT1001", check))
        files.append(path)
    command = [sys.executable, "-m", "utilization", "import-835", "--data", str(folder)]
    started = [
        subprocess.Popen([*command, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for path in [*files, files[0]]
    ]
    outputs = [process.communicate(timeout=300) for process in started]
    assert [p.returncode for p in started] == [0] * 5, [err for _, err in outputs]
    added = [int(re.search(rb"(\d+) payment\(s\) added", out).group(1)) for out, _ in outputs]
    assert sorted(added) == [0, 4, 4, 4, 4]  # the first check's second import adds nothing
    with (folder / "payments.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == EARLIER + 16
    assert len({r["remittance_key"] for r in rows}) == len(rows)
    paid = [r["check_number"] for r in rows[EARLIER:]]
    assert sorted(paid) == sorted(c for c in checks for _ in range(4))
    assert not list(folder.glob(".*.tmp"))

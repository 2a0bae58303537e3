"""scripts/same_figures.py: how two JSON exports are compared (pure functions, small fixtures)."""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "same_figures.py"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("same_figures", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being created
    spec.loader.exec_module(module)
    return module


same_figures = _load_script()


@pytest.fixture
def export() -> dict[str, Any]:
    """A small export of the agency view."""
    return {
        "view": "agency",
        "period": {"from": "2026-01-01", "to": "2026-03-31"},
        "kpis": {"units_approved": 120.0, "units_used": 80.0, "utilization": 0.6667},
        "rejects": [
            {"table": "visits", "row": 3, "column": "end", "value": "", "reason": "missing"},
            {
                "table": "visits",
                "row": 9,
                "column": "units",
                "value": "x",
                "reason": "not a number",
            },
        ],
    }


def test_identical_exports_have_no_differences(export: dict[str, Any]) -> None:
    """Two equal exports give no difference lines."""
    assert same_figures.compare(export, copy.deepcopy(export), set()) == []


def test_a_changed_number_is_one_line_naming_its_key(export: dict[str, Any]) -> None:
    """A changed units_used is one line that names kpis.units_used and both values."""
    new = copy.deepcopy(export)
    new["kpis"]["units_used"] = 81.0
    lines = same_figures.compare(export, new, set())
    assert len(lines) == 1
    assert "kpis.units_used" in lines[0]
    assert "80.0" in lines[0] and "81.0" in lines[0]


def test_an_integer_for_a_float_is_a_difference(export: dict[str, Any]) -> None:
    """80 in place of 80.0 is a difference, because the bytes of the export would change."""
    new = copy.deepcopy(export)
    new["kpis"]["units_used"] = 80
    assert len(same_figures.compare(export, new, set())) == 1


def test_an_allowed_field_added_to_every_row_is_no_difference(export: dict[str, Any]) -> None:
    """A `code` field in every rejects row passes when `rejects.code` is allowed."""
    new = copy.deepcopy(export)
    for row in new["rejects"]:
        row["code"] = "E01"
    assert same_figures.compare(export, new, {"rejects.code"}) == []
    base_bytes, new_bytes = (json.dumps(d).encode() for d in (export, new))
    verdict = same_figures.judge(base_bytes, new_bytes, {"rejects.code"})
    assert verdict.passed
    assert verdict.result == "same apart from added: rejects.code"


def test_a_field_added_to_every_row_not_allowed_is_one_line(export: dict[str, Any]) -> None:
    """Without `rejects.code` allowed, the added field is one line, counting the other rows."""
    new = copy.deepcopy(export)
    for row in new["rejects"]:
        row["code"] = "E01"
    lines = same_figures.compare(export, new, {"rejects.reason"})
    assert len(lines) == 1
    assert lines[0].startswith("rejects[0].code: only in new")
    assert "1 more rows" in lines[0]


def test_a_top_level_key_is_allowed_only_when_named(export: dict[str, Any]) -> None:
    """An extra top-level `limits` key passes when allowed and is a line when not."""
    new = {**export, "limits": {"max_rows": 500}}
    assert same_figures.compare(export, new, {"limits"}) == []
    lines = same_figures.compare(export, new, set())
    assert len(lines) == 1 and lines[0].startswith("limits: only in new")


def test_an_allowed_name_does_not_excuse_a_removed_field(export: dict[str, Any]) -> None:
    """Allowing a field covers adding it only: a field missing in the new export is a line."""
    new = copy.deepcopy(export)
    del new["kpis"]["utilization"]
    lines = same_figures.compare(export, new, {"kpis.utilization"})
    assert lines == ["kpis.utilization: only in base (0.6667)"]


def test_a_missing_row_is_named_as_such(export: dict[str, Any]) -> None:
    """A row missing from a list gives the row counts and that row, not a change of every row."""
    new = copy.deepcopy(export)
    del new["rejects"][0]
    lines = same_figures.compare(export, new, set())
    assert lines[0] == "rejects: 2 rows in base, 1 in new"
    assert len(lines) == 2 and lines[1].startswith("rejects[0]: row only in base")


def test_keys_in_another_order_are_a_difference(export: dict[str, Any]) -> None:
    """The same keys in another order change the bytes, so they are a difference."""
    new = {key: export[key] for key in reversed(export)}
    lines = same_figures.compare(export, new, set())
    assert len(lines) == 1 and "another order" in lines[0]


def test_byte_identical_files_are_the_same_and_other_bytes_are_not() -> None:
    """Equal bytes are "same"; equal values written differently are DIFFERENT."""
    assert same_figures.judge(b'{"a": 1}', b'{"a": 1}', set()).result == "same"
    verdict = same_figures.judge(b'{"a": 1}', b'{"a":1}', set())
    assert not verdict.passed and verdict.result == "DIFFERENT"


def test_at_most_twenty_lines_per_file() -> None:
    """Many differences are cut to 20 lines, the last saying how many more there are."""
    base = {"rows": [{"n": i} for i in range(50)]}
    new = {"rows": [{"n": i + 1} for i in range(50)]}
    verdict = same_figures.judge(json.dumps(base).encode(), json.dumps(new).encode(), set())
    assert len(verdict.lines) == 20
    assert verdict.lines[-1] == "... and 31 more"


def test_the_subjects_are_the_first_authorized_client_and_the_commonest_codes() -> None:
    """The client is the first one with an authorization; a tie goes to the smallest code."""
    clients = pd.DataFrame({"client_id": ["C3", "C1", "C2"]})
    authorizations = pd.DataFrame({"client_id": ["C3", "C2"]})
    assert same_figures.first_authorized_client(clients, authorizations) == "C2"
    codes = pd.Series(["T2017", "H2014", "T2017", "H2014", "S5125"], name="procedure_code")
    assert same_figures.most_frequent(codes) == "H2014"

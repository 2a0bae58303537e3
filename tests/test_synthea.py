"""Synthea encounters (third-party, UTC instants) read as visits: minutes, units, dates."""

from __future__ import annotations

import csv
import math
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import utilization

SYNTHEA = Path(__file__).resolve().parent / "data" / "synthea"
ZONE = "America/New_York"  # the Synthea patients live in Massachusetts


def _rows(name: str) -> list[dict[str, str]]:
    with (SYNTHEA / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.fixture(scope="module")
def synthea_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Encounters mapped into a data folder: one visit per encounter, START/STOP as given."""
    folder = tmp_path_factory.mktemp("synthea")
    patients = _rows("patients.csv")
    encounters = _rows("encounters.csv")
    _write(
        folder / "clients.csv",
        ["client_id", "client_name"],
        [[p["Id"], f"{p['FIRST']} {p['LAST']}"] for p in patients],
    )
    codes = sorted({(e["CODE"], e["DESCRIPTION"]) for e in encounters})
    seen: dict[str, str] = {}
    for code, description in codes:
        seen.setdefault(code, description)
    _write(
        folder / "procedures.csv",
        ["procedure_code", "description"],
        [[c, d] for c, d in seen.items()],
    )
    _write(
        folder / "authorizations.csv",
        [
            "authorization_id",
            "client_id",
            "procedure_code",
            "start_date",
            "end_date",
            "units_approved",
        ],
        [],
    )
    _write(
        folder / "visits.csv",
        ["visit_id", "client_id", "procedure_code", "start", "end"],
        [[e["Id"], e["PATIENT"], e["CODE"], e["START"], e["STOP"]] for e in encounters],
    )
    (folder / "utilization.toml").write_text(f'timezone = "{ZONE}"\n', encoding="utf-8")
    return folder


def _expected(encounter: dict[str, str]) -> tuple[int, int, str]:
    """Minutes, midpoint units and local service date, computed without the package."""
    start = datetime.fromisoformat(encounter["START"].replace("Z", "+00:00"))
    stop = datetime.fromisoformat(encounter["STOP"].replace("Z", "+00:00"))
    minutes = math.floor((stop - start).total_seconds() / 60)
    units = (minutes + 7) // 15
    local_day = start.astimezone(ZoneInfo(ZONE)).date().isoformat()
    return minutes, units, local_day


def test_every_encounter_becomes_a_visit_with_real_minutes_units_and_local_date(
    synthea_folder: Path,
) -> None:
    """Each of the 388 encounters is kept, with elapsed minutes, midpoint units and local date."""
    encounters = _rows("encounters.csv")
    dataset = utilization.load(synthea_folder)
    visits = dataset.visits.set_index("visit_id")
    assert len(encounters) == 388
    assert len(visits) == 388
    assert dataset.rejects.empty
    for encounter in encounters:
        minutes, units, day = _expected(encounter)
        row = visits.loc[encounter["Id"]]
        assert (int(row["minutes"]), int(row["units"])) == (minutes, units), encounter["Id"]
        assert row["service_date"].date().isoformat() == day, encounter["Id"]


def test_minutes_that_are_not_multiples_of_15_are_rounded_by_the_midpoint_rule(
    synthea_folder: Path,
) -> None:
    """Encounters whose minutes are not multiples of 15 get units by the midpoint rule."""
    dataset = utilization.load(synthea_folder)
    odd = dataset.visits[dataset.visits["minutes"] % 15 != 0]
    assert len(odd) > 100  # the sample's README: only about half are multiples of 15
    assert (odd["units"] == (odd["minutes"] + 7) // 15).all()


def test_encounters_without_authorizations_are_unauthorized_services(synthea_folder: Path) -> None:
    """With no authorizations at all, every unit of a completed visit is unauthorized."""
    dataset = utilization.load(synthea_folder)
    visits = dataset.visits
    assert (visits["units_unauthorized"] == visits["units"]).all()
    assert int(visits["units_authorized"].sum()) == 0

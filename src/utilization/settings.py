"""Agency settings: time zone, default rounding rule, alert thresholds."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from utilization.exceptions import InputError

SETTINGS_FILE = "utilization.toml"
WEEKDAYS: tuple[str, ...] = (
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
)  # fmt: skip
"""Names of the days of the week, Monday first (the setting `week_start` is one of them)."""


@dataclass(frozen=True)
class Settings:
    """One agency's settings; every field has a documented default (docs/settings.md)."""

    timezone: str = "America/Los_Angeles"
    rounding: str = "midpoint"
    unit_minutes: int = 15
    long_visit_hours: float = 24.0
    at_risk_remaining_share: float = 0.20
    under_used_pace: float = 0.75
    under_used_min_elapsed_share: float = 0.25
    expiring_days: int = 30
    rate_tolerance: float = 0.01
    week_start: str = "sunday"

    @classmethod
    def from_mapping(cls, values: dict[str, Any], origin: str = "settings") -> Settings:
        """Build settings from a flat or sectioned mapping, rejecting unknown names."""
        flat: dict[str, Any] = {}
        for key, value in values.items():
            if isinstance(value, dict):
                flat.update(value)
            else:
                flat[key] = value
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(flat) - set(known))
        if unknown:
            msg = f"{origin}: unknown setting(s) {unknown}. Known settings: {sorted(known)}"
            raise InputError(msg)
        converted: dict[str, Any] = {}
        for key, value in flat.items():
            if key == "week_start" and isinstance(value, str):
                value = value.strip().lower()
            kind = type(getattr(cls(), key))
            try:
                converted[key] = kind(value)
            except (TypeError, ValueError):
                msg = f"{origin}: setting {key!r} = {value!r} is not a {kind.__name__}"
                raise InputError(msg) from None
        settings = cls(**converted)
        settings.check(origin)
        return settings

    def check(self, origin: str = "settings") -> None:
        """Raise InputError when a value cannot be used."""
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        from utilization.units import RULES

        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            msg = f"{origin}: timezone {self.timezone!r} is not an IANA time zone name"
            raise InputError(msg) from None
        if self.rounding not in RULES:
            msg = f"{origin}: rounding {self.rounding!r} is not one of {list(RULES)}"
            raise InputError(msg)
        if self.week_start not in WEEKDAYS:
            msg = f"{origin}: week_start {self.week_start!r} is not one of {list(WEEKDAYS)}"
            raise InputError(msg)
        if self.unit_minutes < 0:
            msg = f"{origin}: unit_minutes must be 0 or more, not {self.unit_minutes}"
            raise InputError(msg)


def load_settings(path: Path | str | None = None, data_dir: Path | None = None) -> Settings:
    """Read settings from `path`, else `utilization.toml` in the data folder, else defaults."""
    candidate: Path | None = Path(path) if path is not None else None
    if candidate is None and data_dir is not None and (data_dir / SETTINGS_FILE).is_file():
        candidate = data_dir / SETTINGS_FILE
    if candidate is None:
        return Settings()
    try:
        values = tomllib.loads(candidate.read_text(encoding="utf-8"))
    except FileNotFoundError:
        msg = f"settings file {candidate} does not exist"
        raise InputError(msg) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        msg = f"settings file {candidate} is not valid TOML: {exc}"
        raise InputError(msg) from None
    return Settings.from_mapping(values, origin=str(candidate))

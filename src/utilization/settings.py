"""Agency settings: time zone, default rounding rule, alert thresholds."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from utilization.exceptions import InputError
from utilization.files import fault
from utilization.schema import highest

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
        where: dict[str, str] = {}  # the section of each setting, to say where it is twice
        for key, value in values.items():
            given = value if isinstance(value, dict) else {key: value}
            place = f"in [{key}]" if isinstance(value, dict) else "at the top"
            for name, setting in given.items():
                if name in flat:
                    msg = (
                        f"{origin}: setting {name!r} is given twice ({where[name]} and "
                        f"{place}); keep one"
                    )
                    raise InputError(msg)
                flat[name], where[name] = setting, place
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
            converted[key] = _converted(key, value, kind, origin)
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
        for key, (low, high) in RANGES.items():
            value = getattr(self, key)
            if not low <= value <= high:
                msg = (
                    f"{origin}: {key} must be from {_number(low)} to {_number(high)}, "
                    f"not {_number(value)}"
                )
                raise InputError(msg)


def _number(value: float) -> str:
    """A number as a person writes it: 1,000,001 (never 1e+06), 0.25, 1,000,000.5 (every
    digit: never rounded to look like a bound), 1e+18 when huge.
    """
    number = float(value)
    if not number.is_integer():  # every digit given, NaN and infinities as such
        return f"{number:,}"
    return f"{int(number):,}" if abs(number) < 1e15 else f"{number:,g}"


RANGES: dict[str, tuple[float, float]] = {
    "unit_minutes": (0, highest("minutes")),  # the bound of minutes (data contract §2)
    "long_visit_hours": (0, 8_784),  # 366 days
    "at_risk_remaining_share": (0, 1),
    "under_used_pace": (0, 100),
    "under_used_min_elapsed_share": (0, 1),
    "expiring_days": (0, 36_500),  # a hundred years
    "rate_tolerance": (0, highest("money")),
}
"""The range each numeric setting must lie in (inclusive)."""


def _converted(key: str, value: Any, kind: type, origin: str) -> Any:
    """A setting's value as its type: text as text; a number finite, and whole for whole
    settings (15.7 minutes is an error, not 15); `true` is not a number.
    """
    if kind is str:
        if not isinstance(value, str):
            msg = f"{origin}: setting {key!r} = {value!r} is not text"
            raise InputError(msg)
        return value
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        msg = f"{origin}: setting {key!r} = {value!r} is not a finite number"
        raise InputError(msg)
    if kind is int:
        if not number.is_integer():
            msg = f"{origin}: setting {key!r} = {value!r} is not a whole number"
            raise InputError(msg)
        return int(number)
    return number


def load_settings(path: Path | str | None = None, data_dir: Path | None = None) -> Settings:
    """Read settings from `path`, else `utilization.toml` in the data folder, else defaults."""
    candidate: Path | None = Path(path) if path is not None else None
    if candidate is None and data_dir is not None and (data_dir / SETTINGS_FILE).exists():
        candidate = data_dir / SETTINGS_FILE  # a folder of that name is said to be one
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
    except OSError as exc:  # a folder, no permission, a device error
        raise fault(exc, candidate, "read the settings file") from None
    return Settings.from_mapping(values, origin=str(candidate))

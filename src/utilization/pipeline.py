"""One call from a data source to a matched dataset: read, validate, match."""

from __future__ import annotations

from pathlib import Path

from utilization.dataset import Dataset
from utilization.settings import Settings, load_settings


def load(source: str | Path, settings: Settings | Path | str | None = None) -> Dataset:
    """Read `source` (folder, workbook, SQL URL or `demo`), validate it and match visits.

    Settings: a Settings object, a path to a settings file, or None for the data folder's
    `utilization.toml` (if any) and otherwise the defaults.
    """
    from utilization import matching, sources, validation

    raw = sources.read_source(source)
    if not isinstance(settings, Settings):
        settings = load_settings(settings, raw.data_dir)
    dataset = validation.validate(raw, settings)
    return matching.match(dataset)

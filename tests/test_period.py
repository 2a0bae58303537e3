"""Dates in words and as ISO text, all at once (`period.days_in_words`, `period.iso_dates`)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from utilization.period import day_words, days_in_words, iso_dates


def test_days_in_words_write_each_date_as_day_words_does() -> None:
    days = pd.date_range("2025-12-25", "2026-03-05", freq="D").to_numpy()
    assert days_in_words(days).tolist() == [day_words(d) for d in days]
    assert days_in_words(days[:2]).tolist() == ["25 Dec 2025", "26 Dec 2025"]
    since_1970 = (days.astype("datetime64[D]").astype(np.int64))[-5:]  # 1 to 5 Mar 2026
    assert days_in_words(since_1970).tolist() == [f"{d} Mar 2026" for d in range(1, 6)]
    assert days_in_words(days[-1:], "%B %Y").tolist() == ["March 2026"]


def test_iso_dates_leave_a_missing_date_none_and_write_odd_years_as_strftime() -> None:
    dates = pd.Series(
        np.array(["2026-03-01", "NaT", "0999-01-02", "2026-12-31"], dtype="datetime64[s]")
    )
    assert iso_dates(dates) == ["2026-03-01", None, f"{date(999, 1, 2):%Y-%m-%d}", "2026-12-31"]
    assert iso_dates(dates.iloc[[3, 0]]) == ["2026-12-31", "2026-03-01"]

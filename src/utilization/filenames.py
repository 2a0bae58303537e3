"""Safe report file names from client ids and procedure codes."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable

SAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_LENGTH = 80
# Names Windows refuses whatever the extension (a report folder may be copied there).
RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{n}" for p in ("COM", "LPT") for n in range(1, 10)}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def safe_name(text: str) -> str:
    """A file name from an id: no path separators, no traversal, no clash between ids.

    Characters outside `A-Z a-z 0-9 . _ -` become `_`, leading and trailing `.` and `_` go,
    and when anything had to change (or the name is reserved on Windows) a short hash of the
    original id is appended, so `a/b` and `a?b` do not end up as the same file.
    """
    normal = unicodedata.normalize("NFC", text)
    cleaned = SAFE.sub("_", normal).strip("._") or "report"
    if cleaned != text or cleaned.split(".")[0].upper() in RESERVED or len(cleaned) > MAX_LENGTH:
        cleaned = f"{cleaned[:MAX_LENGTH]}-{_digest(text)}"
    return cleaned


def unique_names(ids: Iterable[str]) -> dict[str, str]:
    """Each id's safe name, distinct even on case-insensitive file systems (`ab` vs `AB`).

    Ids whose safe names differ only in case all get the hash suffix.
    """
    names = {i: safe_name(i) for i in dict.fromkeys(ids)}
    folded: dict[str, list[str]] = {}
    for i, name in names.items():
        folded.setdefault(name.casefold(), []).append(i)
    for group in folded.values():
        if len(group) > 1:
            for i in group:
                if not names[i].endswith(_digest(i)):
                    names[i] = f"{names[i]}-{_digest(i)}"
    return names

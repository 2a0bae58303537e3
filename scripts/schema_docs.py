"""Write the schema's tables into the docs (data contract, README, design) after a change.

Usage: `python scripts/schema_docs.py`; tests/test_schema.py checks the docs hold exactly
these tables.
"""

from __future__ import annotations

from pathlib import Path

from utilization import schema

ROOT = Path(__file__).resolve().parents[1]


def replace_table(text: str, table: str) -> str:
    """`text` with the Markdown table starting with `table`'s header line replaced."""
    header = table.splitlines()[0]
    i = text.index(header)
    lines = text[i:].splitlines(keepends=True)
    n = 0
    for line in lines:
        if not line.startswith("|"):
            break
        n += len(line)
    return text[:i] + table.rstrip("\n") + "\n" + text[i + n :]


def main() -> None:
    """Rewrite the tables in place."""
    for path, render in schema.DOC_TABLES:
        file = ROOT / path
        file.write_text(replace_table(file.read_text(encoding="utf-8"), render()), "utf-8")


if __name__ == "__main__":
    main()

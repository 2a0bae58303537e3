"""X12 835 remittances: reading the files (`x12`), matching their lines to visits (`lines`),
importing them into a data folder (`importer`) and adding a folder's files to a dataset
(`payments`).
"""

from utilization.remittance.importer import ImportResult, import_835
from utilization.remittance.lines import match_lines
from utilization.remittance.payments import payments_from_remittances, with_remittances
from utilization.remittance.x12 import (
    ERROR_COLUMNS,
    LINE_COLUMNS,
    PAYMENT_COLUMNS,
    empty_lines,
    read_835,
    read_remittances,
    remittance_files,
)

__all__ = [
    "ERROR_COLUMNS",
    "LINE_COLUMNS",
    "PAYMENT_COLUMNS",
    "ImportResult",
    "empty_lines",
    "import_835",
    "match_lines",
    "payments_from_remittances",
    "read_835",
    "read_remittances",
    "remittance_files",
    "with_remittances",
]

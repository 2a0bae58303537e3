"""What importing the package costs: the IRI grammar jsonschema would build waits for its
first use, and gives the same answers then.
"""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
import utilization, jsonschema, nbformat
assert "rfc3987_syntax.syntax_helpers" not in sys.modules, "grammar built at import"
checker = jsonschema.Draft7Validator.FORMAT_CHECKER
print([checker.conforms(v, f) for v, f in CASES])
assert "rfc3987_syntax.syntax_helpers" in sys.modules
"""
CASES = [
    ("https://example.org/ä?q=1#x", "iri"),
    ("not an iri ::", "iri"),
    ("a b", "iri-reference"),
    ("../relative/ü", "iri-reference"),
]


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", f"CASES = {CASES!r}\n{code}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_iri_formats_are_checked_as_before_but_only_when_asked() -> None:
    """After `import utilization`, jsonschema's IRI checks answer as with the real module
    imported first (the grammar is compiled on the first check, not at import).
    """
    deferred = _run(CHECK)
    direct = _run(
        "import rfc3987_syntax, jsonschema\n"
        "checker = jsonschema.Draft7Validator.FORMAT_CHECKER\n"
        "print([checker.conforms(v, f) for v, f in CASES])"
    )
    assert deferred == direct
    assert deferred.strip() == "[True, False, False, True]"

"""Start-up work the package keeps out of every process that imports it.

jsonschema, which nbformat and Altair import, imports `rfc3987_syntax` whenever that is
installed (JupyterLab and Voilà bring it), and `rfc3987_syntax` compiles three Earley
parsers of the RFC 3987 grammar when imported: 1.0-1.3 s on these machines, in the command,
in every kernel and in every batch worker, for the `iri` string formats that no schema read
here (notebooks, Vega-Lite) uses. `defer_iri_grammar` puts a stand-in in its place whose
functions import the real module the first time one of them is called, so a schema that
does check an IRI gets the same answer, only later.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

IRI_GRAMMAR = "rfc3987_syntax"


def defer_iri_grammar() -> None:
    """Stand in for `rfc3987_syntax` until one of its names is used (see the module's text).

    Nothing happens when it is already imported or not installed.
    """
    if IRI_GRAMMAR in sys.modules:
        return
    spec = importlib.util.find_spec(IRI_GRAMMAR)
    if spec is None:
        return
    stand_in = types.ModuleType(IRI_GRAMMAR, "Stand-in: the real module is imported on first use.")

    def real() -> types.ModuleType:
        if sys.modules.get(IRI_GRAMMAR) is stand_in:
            del sys.modules[IRI_GRAMMAR]
        return importlib.import_module(IRI_GRAMMAR)

    def is_valid_syntax(term: str, value: str) -> bool:
        valid: bool = real().is_valid_syntax(term, value)
        return valid

    def attribute(name: str) -> Any:  # any other name: the real module's
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(real(), name)

    stand_in.is_valid_syntax = is_valid_syntax  # type: ignore[attr-defined]
    stand_in.__getattr__ = attribute  # type: ignore[method-assign]
    stand_in.__path__ = list(spec.submodule_search_locations or [])
    sys.modules[IRI_GRAMMAR] = stand_in

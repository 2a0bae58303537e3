"""The package's shape holds: import-linter contracts kept, no import cycle, one home per view."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

from utilization import views
from utilization.report.sections import SECTIONS

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_are_kept() -> None:
    """`lint-imports` (contracts in pyproject.toml) reports every contract kept."""
    done = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 3 kept, 0 broken." in done.stdout


def test_no_module_imports_itself_through_others() -> None:
    """No two modules of the package import each other, directly or through a chain
    (imports made only for type checking do not run and do not count).
    """
    graph = grimp.build_graph("utilization", exclude_type_checking_imports=True)
    cycles = [
        (module, imported)
        for module in sorted(graph.modules)
        for imported in graph.find_modules_directly_imported_by(module)
        if graph.find_shortest_chain(importer=imported, imported=module)
    ]
    assert cycles == []


def test_every_section_a_view_lists_exists_and_every_template_is_shipped() -> None:
    """Each registry entry names sections the report knows and a template notebook that is in
    the package's templates folder (the repository's notebooks/).
    """
    from utilization.report.runner import templates_dir

    for view in views.VIEWS.values():
        assert set(view.sections) <= set(SECTIONS), view.name
        assert (templates_dir() / view.template).is_file(), view.template

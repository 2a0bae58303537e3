"""A database password is never written or printed: manifests, notebooks, logs, messages."""

from __future__ import annotations

import hashlib
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import sqlalchemy as sa
import yaml

from utilization import sources
from utilization.cli import main
from utilization.exceptions import InputError
from utilization.report.runner import Renderer
from utilization.sources import PASSWORD_ENV, masked_source, read_source, split_password

SECRET = "s3cr3t-Pw"
DIGEST = hashlib.sha256(SECRET.encode()).hexdigest()


def test_a_url_is_split_from_its_password_and_shown_masked() -> None:
    """The password leaves the URL whole (its %-escapes decoded); other sources are unchanged."""
    url = "postgresql+psycopg://billing:p%40ss@db.example:5432/agency"
    assert split_password(url) == ("postgresql+psycopg://billing@db.example:5432/agency", "p@ss")
    assert masked_source(url) == "postgresql+psycopg://billing:***@db.example:5432/agency"
    for plain in ("postgresql+psycopg://billing@db/agency", "sqlite:///a.db", "demo", "/data"):
        assert split_password(plain) == (plain, "")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql+psycopg://u:secretpw@host:bad/db", "is not a usable database URL"),
        ("mysql://u:secretpw@host/db", "the database driver 'MySQLdb' is not installed"),
        ("postgresql+psycopg://u:secretpw@127.0.0.1:1/db", "cannot read the database"),
    ],
    ids=["malformed", "no-driver", "refused"],
)
def test_messages_about_a_database_mask_its_password(
    url: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A malformed URL, a missing driver and a refused connection: one message, exit 1,
    the password as ***.
    """
    assert main(["validate", "--data", url]) == 1
    err = capsys.readouterr().err
    assert expected in err and "u:***@" in err
    assert "secretpw" not in err and "Traceback" not in err


def test_without_a_password_the_url_takes_the_environment_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """UTILIZATION_DB_PASSWORD is the password of a URL that gives none; a URL's own wins."""
    seen: list[sa.URL] = []

    def engine(url: str | sa.URL) -> sa.Engine:
        seen.append(sa.make_url(url))
        raise ValueError("stop here")

    monkeypatch.setattr(sa, "create_engine", engine)
    monkeypatch.setenv(PASSWORD_ENV, SECRET)
    for url in ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u:own@h/db"):
        with pytest.raises(InputError, match=r"not a usable database URL \(stop here\)"):
            read_source(url)
    assert [u.password for u in seen] == [SECRET, "own"]


def test_the_kernel_gets_the_password_and_the_notebook_never_holds_it(tmp_path: Path) -> None:
    """Rendering with a URL that holds a password: the notebook's `data` is the URL without
    it, the kernel has it in UTILIZATION_DB_PASSWORD, and the executed notebook holds it nowhere.
    """
    templates = tmp_path / "templates"
    templates.mkdir()
    nb = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "P"}}
    )
    nb.cells = [
        nbformat.v4.new_code_cell('data = "demo"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            "import hashlib, os\n"
            "given = os.environ.get('UTILIZATION_DB_PASSWORD', '').encode()\n"
            f"print(hashlib.sha256(given).hexdigest() == {DIGEST!r}, data)"
        ),
    ]
    for name in ("agency", "client", "procedure", "service_codes", "authorizations"):
        nbformat.write(nb, templates / f"{name}.ipynb")
    with Renderer(folder=templates) as renderer:
        done = renderer.execute("agency", {"data": f"postgresql+psycopg://u:{SECRET}@h/db"})
        again = renderer.execute("agency", {"data": "postgresql+psycopg://u@h/db"})
    printed = done.cells[-1].outputs[0]["text"]
    assert printed == "True postgresql+psycopg://u@h/db\n"
    assert SECRET not in nbformat.writes(done)
    assert again.cells[-1].outputs[0]["text"] == "False postgresql+psycopg://u@h/db\n"


@pytest.mark.slow
def test_a_batch_from_postgresql_writes_the_password_nowhere(
    postgres_url: str, demo_folder, tmp_path: Path
) -> None:
    """A batch (HTML and executed notebook) from a URL holding a password: no file of the
    output set holds the password; the manifest shows the URL masked.
    """
    data = demo_folder(clients=8, today=pd.Timestamp("2026-11-23").date())
    engine = sa.create_engine(postgres_url)
    with engine.begin() as connection:
        for path in data.glob("*.csv"):
            pd.read_csv(path, dtype=str).to_sql(path.stem, connection, index=False)
    engine.dispose()
    url = postgres_url.replace("postgres@", f"postgres:{SECRET}@")
    params = tmp_path / "q.yaml"
    params.write_text(
        yaml.safe_dump(
            {"name": "q", "view": "client", "period": "2026-Q4", "data": url,
             "clients": ["C0001"], "formats": ["html", "ipynb"], "out": str(tmp_path / "out")}
        )
    )  # fmt: skip
    assert main(["batch", str(params), "--workers", "1", "--no-progress"]) == 0
    written = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert {p.name for p in written} >= {"manifest.json", "C0001.ipynb", "C0001.html", "batch.log"}
    assert [p.name for p in written if SECRET in p.read_text(errors="replace")] == []
    manifest = (tmp_path / "out" / "q" / "2026-Q4" / "manifest.json").read_text()
    assert masked_source(url) in manifest
    assert (
        sources.split_password(url)[0]
        in (tmp_path / "out/q/2026-Q4/client/C0001.ipynb").read_text()
    )

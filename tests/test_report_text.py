"""Text from the data on a report's page: a name in any script prints, a direction control
cannot turn a line around, a word longer than the page breaks instead of pushing a table's
numbers off it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from browser import pdf_pages, require_chromium_binary
from utilization.report import charts, render, tables

RLO, PDF_MARK = "\u202e", "\u202c"  # right-to-left override, pop directional formatting


def test_a_long_word_in_a_table_cell_can_break_and_stays_escaped() -> None:
    """A run of 40 characters without a space gets a break opportunity every 16; shorter
    words and the text around are left whole; markup in it is escaped piece by piece.
    """
    run = "<b>" + "X" * 37
    assert tables.breakable(f"T2017 {run} ok") == (
        "T2017 &lt;b&gt;XXXXXXXXXXXXX<wbr>XXXXXXXXXXXXXXXX<wbr>XXXXXXXX ok"
    )
    assert tables.breakable("Supported Employment & Group") == "Supported Employment &amp; Group"
    assert tables.breakable("x" * tables.LONG_WORD) == "x" * tables.LONG_WORD
    frame = pd.DataFrame({"description": ["Y" * 33]})
    cell = "Y" * 16 + "<wbr>" + "Y" * 16 + "<wbr>" + "Y"
    assert f"<td>{cell}</td>" in tables.table(frame, columns={"description": "Description"})


def test_a_direction_override_from_the_data_is_left_out_of_the_page() -> None:
    """A client named "Keiko <RLO>Dunmore" (the override never closed) would print the rest
    of the line backwards ("6202 raM 13" for 31 Mar 2026): the title, subtitle, body, chart
    labels and running header hold no direction control; Arabic still reads as Arabic.
    """
    name = f"Keiko {RLO}Dunmore"
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data", data={"text/html": f"<p>{name} (C0001) · 20 units · سارة</p>"}
        )
    ]
    nb.cells = [cell]
    html = render.notebook_to_html(nb, f"Client {name}", f"{name} (C0001) · 1 Jan 2026")
    assert RLO not in html and PDF_MARK not in html
    assert "<p>Keiko Dunmore (C0001) · 20 units · سارة</p>" in html
    assert "Keiko Dunmore (C0001) · 1 Jan 2026" in html
    css = render.page_css(f"{name} (C0001) · 1 Jan 2026 – 31 Mar 2026")
    assert "\\00202e" not in css and render._css_string("Keiko Dunmore") in css
    frame = pd.DataFrame(
        {"procedure_code": [f"CBS {RLO}Visit"], "units_approved": [53.0], "units_used": [77.0]}
    )
    svg = charts.to_svg(charts.approved_vs_used(frame))
    assert RLO not in svg and "CBS Visit" in svg


def test_a_running_header_longer_than_the_page_ends_in_an_ellipsis() -> None:
    """A name of 300 letters would run the header off the page: it is cut to
    `HEADER_CHARACTERS`, the last one an ellipsis; a usual header is whole.
    """
    long = "W" * 300
    css = render.page_css(f"{long} (c0006)")
    shown = "W" * (render.HEADER_CHARACTERS - 1) + "…"
    assert render._css_string(shown) in css and render._css_string("W" * 110) not in css
    usual = "Ana Alvarez (C1) · 1 Jan 2026 – 31 Mar 2026"
    assert render._css_string(usual) in render.page_css(usual)


def _glyph(text: str, engine: str, folder: Path) -> bytes:
    """The pixels of `text` printed alone, large, by `engine` (pdftoppm's PPM bytes)."""
    html = (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><style>body { font-family: '
        '"Liberation Sans", sans-serif; font-size: 60px; }</style></head>'
        f"<body><p>{text}</p></body></html>"
    )
    pdf = folder / f"{engine}-{ord(text[0]):x}.pdf"
    pdf.write_bytes(render.pdf_bytes(html, "", engine=engine))
    ppm = subprocess.run(
        ["pdftoppm", "-r", "30", "-f", "1", "-l", "1", str(pdf)], capture_output=True, check=True
    ).stdout
    return ppm


@pytest.mark.parametrize("engine", ["chromium", "weasyprint"])
def test_names_in_chinese_japanese_korean_and_emoji_print_as_themselves(
    engine: str, tmp_path: Path
) -> None:
    """A font without a character prints the same empty box for every one: two different
    characters of each script (and a character no font has, for the box itself) must print
    differently, in both PDF engines. The fonts come from `scripts/bootstrap`
    (fonts-noto-cjk, fonts-noto-color-emoji).
    """
    if engine == "chromium":
        require_chromium_binary()
    box = _glyph("\U000f0001", engine, tmp_path)  # private use: in no font
    for first, second in [("山", "田"), ("あ", "い"), ("김", "민"), ("😀", "💸")]:
        one, two = _glyph(first, engine, tmp_path), _glyph(second, engine, tmp_path)
        assert one != two, f"{first} and {second} print the same: no font has them"
        assert box not in (one, two), f"{first} or {second} prints as an empty box"
    pdf = tmp_path / "name.pdf"
    html = '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>'
    pdf.write_bytes(render.pdf_bytes(html + "<p>山田 太郎 / 김민준</p></body></html>", ""))
    assert "山田 太郎 / 김민준" in pdf_pages(pdf)[0]

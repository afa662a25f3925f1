"""`bench report` in a terminal of 80, 120 and 200 columns: no header, name or number broken across
lines, long notes as footnotes, and the columns that do not fit left out in the stated order and named.
"""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.cells import cell_len
from rich.console import Console

from bench.cli import main
from bench.reporting import plots
from bench.reporting.layout import sections
from bench.reporting.render_terminal import drop_order, is_note, terminal_report
from bench.reporting.report import Report, build

GOLDEN = Path(__file__).parent / "data" / "golden"
NUMBER = re.compile(r"[-+−≈]?\d[\d,]*(?:\.\d+)?")


@pytest.fixture(scope="module")
def report() -> Report:
    return build([GOLDEN / "basic", GOLDEN / "sweep"])


def render(rep: Report, width: int, wide: bool = False) -> list[str]:
    parts, needed = terminal_report(rep, width, wide)
    out = io.StringIO()
    console = Console(file=out, width=needed, color_system=None, legacy_windows=False)
    for part in parts:
        console.print(part)
    return out.getvalue().splitlines()


def left_out(lines: list[str], title: str, width: int) -> list[str]:
    """The headers the report says it left out of a table, from its own words."""
    text = " ".join(" ".join(lines).split())
    found = re.search(rf'{re.escape(title)}: left out at {width} columns, in this order: (".*?")\. ', text)
    return re.findall(r'"(.*?)"', found.group(1)) if found else []


def whole_on_a_line(token: str, lines: list[str]) -> bool:
    """`token` on one line, not glued to more digits (a number cut short is not found)."""
    pattern = re.compile(rf"(?<![\d.,]){re.escape(token)}(?![\d])")
    return any(pattern.search(line) for line in lines)


@pytest.mark.parametrize("width", [80, 120, 200])
def test_every_header_name_and_number_is_whole_at_each_width(report: Report, width: int) -> None:
    lines = render(report, width)
    assert max(cell_len(line) for line in lines) <= width
    table_lines = [line for line in lines if line[:1] in "┃│"]
    flat = " ".join(" ".join(lines).split())
    for title, _, (headers, rows) in sections(report, with_ci=False):
        if not headers:  # sentences wrap between words: every number of them is whole
            for (sentence,) in rows:
                assert all(whole_on_a_line(n, lines) for n in NUMBER.findall(sentence)), sentence
            continue
        gone = left_out(lines, title, width)
        assert [headers[i] for i in drop_order(headers) if headers[i] in gone] == gone  # the stated order
        for i, header in enumerate(headers):
            if header in gone:
                assert i > 0
                continue
            for word in header.split():  # a header wraps between its words, never inside one
                assert any(word in line for line in table_lines if line.startswith("┃")), (title, word)
            for row in rows:
                text = row[i]
                if i > 0 and is_note(header, text):  # a footnote under the table, read whole
                    assert " ".join(text.split()) in flat, (title, text)
                else:
                    assert any(text in line for line in table_lines), (title, header, text)
                for number in NUMBER.findall(text):
                    assert whole_on_a_line(number, lines), (title, header, number)


def test_narrow_terminals_leave_out_more_and_say_how_to_see_it(report: Report) -> None:
    gone = {w: left_out(render(report, w), "Runs", w) for w in (80, 120, 200)}
    assert gone[80] and set(gone[120]) <= set(gone[80]) and set(gone[200]) <= set(gone[120])
    assert len(gone[200]) < len(gone[80])
    lines = render(report, 80)
    text = " ".join(" ".join(lines).split())
    assert "`bench report --wide` shows every column" in text and "--format csv" in text
    # The references' long descriptions are footnotes under the table, not ten lines of a cell.
    assert any(re.fullmatch(r"\[\d+\] reference: always the training split's most frequent class *", line)
               for line in lines)  # fmt: skip
    assert any(re.match(r"│ majority class \[\d+\] +│", line) for line in lines)


def test_wide_shows_every_column_whole(
    report: Report, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = render(report, 80, wide=True)
    assert not any("left out at" in line for line in lines)
    for title, _, (headers, rows) in sections(report, with_ci=False):
        for row in rows if headers else []:
            for i, text in enumerate(row):
                if not (i > 0 and is_note(headers[i], text)):
                    assert any(text in line for line in lines), (title, text)
    basic = shutil.copytree(GOLDEN / "basic", tmp_path / "basic")
    monkeypatch.setattr(plots, "write_all", lambda rep, folder: {})  # the plots are tested elsewhere
    cli = CliRunner().invoke(main, ["report", str(basic), "--wide"], env={"COLUMNS": "80"})
    assert cli.exit_code == 0, cli.output
    assert "left out at" not in cli.output
    assert max(cell_len(line) for line in cli.output.splitlines()) > 80
    assert "3,072.0 ± 0.0" in cli.output  # RSS, which does not fit in 80 columns

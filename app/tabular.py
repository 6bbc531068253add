"""Tables as files: CSV (streamed line by line) and .xlsx (openpyxl's write-only mode, rows go
to a temporary file as they come, never all held in memory). One place for both, so every list
and figure table the product exports is written the same way: Chinese headers, Excel-readable,
and no cell a spreadsheet would run as a formula."""
from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator
from typing import IO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

FORMATS = ("csv", "xlsx")
MIMETYPES = {"csv": "text/csv; charset=utf-8",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def inert(cell):
    """A text cell a spreadsheet would read as a formula gets a leading apostrophe (CSV/xlsx
    injection: department, step and resource names are typed in by people)."""
    return "'" + cell if isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


def csv_lines(headers: tuple, rows: Iterable[tuple]) -> Iterator[str]:
    """CSV text line by line, with a BOM so that Excel reads the Chinese headers as UTF-8."""
    out = io.StringIO()
    writer = csv.writer(out)
    yield "\ufeff"
    writer.writerow(headers)
    for row in rows:
        writer.writerow([inert(cell) for cell in row])
        if out.tell() > 64 * 1024:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


Sheet = tuple[str, tuple, Iterable[tuple]]  # title, headers, rows


def xlsx_file(sheets: Iterable[Sheet]) -> IO[bytes]:
    """An .xlsx workbook, one worksheet per (title, headers, rows), bold header row; returned
    as a binary file positioned at its start."""
    book = Workbook(write_only=True)
    bold = Font(bold=True)
    for title, headers, rows in sheets:
        sheet = book.create_sheet(title=title[:31])  # Excel's limit on a sheet's name
        sheet.freeze_panes = "A2"
        sheet.append([_bold(WriteOnlyCell(sheet, value=text), bold) for text in headers])
        for row in rows:
            sheet.append([inert(value) for value in row])
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - the caller sends and closes it
    book.save(out)
    out.seek(0)
    return out



def _bold(cell: WriteOnlyCell, font: Font) -> WriteOnlyCell:
    cell.font = font
    return cell

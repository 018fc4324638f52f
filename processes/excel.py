"""Excel export (xlsxwriter): formatted report workbooks, and streamed row exports in constant memory.

`stream_rows` writes row by row with `constant_memory` (each row is flushed to disk as soon as the next
begins), so a 100,000-row export holds one row in memory, whatever its length; callers feed it from a
server-side cursor. Any helper may reuse both functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import IO, Any

import xlsxwriter

SHEET_MAX_ROWS = 1_048_575  # Excel's limit minus the header row


def _formats(book: Any) -> dict[str, Any]:
    border = {"border": 1, "border_color": "#b7c3d0"}
    return {
        "title": book.add_format({"bold": True, "font_size": 14}),
        "meta": book.add_format({"font_color": "#57606a"}),
        "header": book.add_format(
            {"bold": True, "bg_color": "#dbe7f3", "text_wrap": True, "valign": "vcenter", **border}
        ),
        "text": book.add_format(border),
        "int": book.add_format({"num_format": "#,##0", **border}),
        "float": book.add_format({"num_format": "#,##0.00", **border}),
        "date": book.add_format({"num_format": "yyyy-mm-dd", **border}),
        "datetime": book.add_format({"num_format": "yyyy-mm-dd hh:mm", **border}),
        "total": book.add_format({"bold": True, "top": 2, "num_format": "#,##0.##", **border}),
    }


def _write_cell(sheet: Any, row: int, col: int, value: Any, fmt: dict[str, Any], total: bool = False) -> None:
    if total:
        if isinstance(value, datetime | date):
            value = value.isoformat()
        sheet.write(row, col, value, fmt["total"])
    elif value is None:
        sheet.write_blank(row, col, None, fmt["text"])
    elif isinstance(value, bool):
        sheet.write_string(row, col, "是" if value else "否", fmt["text"])
    elif isinstance(value, int):
        sheet.write_number(row, col, value, fmt["int"])
    elif isinstance(value, float):
        sheet.write_number(row, col, value, fmt["float"])
    elif isinstance(value, datetime):
        # Excel has no time zones: write the local wall time the page shows.
        sheet.write_datetime(row, col, value.replace(tzinfo=None), fmt["datetime"])
    elif isinstance(value, date):
        sheet.write_datetime(row, col, datetime(value.year, value.month, value.day), fmt["date"])
    else:
        sheet.write_string(row, col, str(value), fmt["text"])


def _setup_print(sheet: Any, header_row: int, columns: int) -> None:
    sheet.set_landscape()
    sheet.set_paper(9)  # A4
    sheet.fit_to_pages(1, 0)
    sheet.repeat_rows(header_row)
    sheet.freeze_panes(header_row + 1, 0)
    sheet.set_footer("&C第 &P 页 / 共 &N 页")
    sheet.set_column(0, max(columns - 1, 0), 16)


def write_report(target: str | IO[bytes], title: str, tables: Sequence[Any], meta: Sequence[str] = ()) -> None:
    """A formatted workbook: one sheet per table (title, conditions, header, rows, bold total row)."""
    book = xlsxwriter.Workbook(target, {"in_memory": True})
    fmt = _formats(book)
    used: set[str] = set()
    for index, table in enumerate(tables, start=1):
        name = "".join(ch for ch in table.title if ch not in "[]:*?/\\")[:28] or f"表{index}"
        if name in used:
            name = f"{name[:25]}_{index}"
        used.add(name)
        sheet = book.add_worksheet(name)
        sheet.write(0, 0, f"{title} — {table.title}", fmt["title"])
        for offset, line in enumerate(meta, start=1):
            sheet.write(offset, 0, line, fmt["meta"])
        header = len(meta) + 2
        for col, label in enumerate(table.columns):
            sheet.write(header, col, label, fmt["header"])
        row = header
        for row_values in table.rows:
            row += 1
            for col, value in enumerate(row_values):
                _write_cell(sheet, row, col, value, fmt)
        if table.total:
            row += 1
            for col, value in enumerate(table.total):
                _write_cell(sheet, row, col, value, fmt, total=True)
        _setup_print(sheet, header, len(table.columns))
    book.close()


def stream_rows(
    path: str,
    title: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    meta: Sequence[str] = (),
    progress: Callable[[int], None] | None = None,
    every: int = 5000,
    tmpdir: str | None = None,
) -> int:
    """Write rows to an .xlsx file in constant memory; progress(n) every `every` rows; returns the count.

    `tmpdir` is where xlsxwriter keeps its row buffers while writing (default: the system's temp folder).
    """
    options: dict[str, Any] = {"constant_memory": True}
    if tmpdir:
        options["tmpdir"] = tmpdir
    book = xlsxwriter.Workbook(path, options)
    fmt = _formats(book)
    sheet = book.add_worksheet("查询结果")
    sheet.write(0, 0, title, fmt["title"])
    for offset, line in enumerate(meta, start=1):
        sheet.write(offset, 0, line, fmt["meta"])
    header = len(meta) + 2
    for col, label in enumerate(columns):
        sheet.write(header, col, label, fmt["header"])
    _setup_print(sheet, header, len(columns))
    count = 0
    for values in rows:
        if count >= SHEET_MAX_ROWS - header:
            break
        count += 1
        for col, value in enumerate(values):
            _write_cell(sheet, header + count, col, value, fmt)
        if progress and count % every == 0:
            progress(count)
    book.close()
    if progress:
        progress(count)
    return count

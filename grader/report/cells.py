"""CSV cells that a spreadsheet reads as text. Pure functions.

    spreadsheet_text('=HYPERLINK("https://evil.example")')   # "'=HYPERLINK(...)"

A cell starting with '=', '+', '-', '@', a tab or a carriage return is a formula to Excel, LibreOffice
and Google Sheets. Much of what the grader's CSV files hold is the students' own (a notebook's file
name, an id made from a folder's name): such a cell gets a leading quote, which the spreadsheet
shows as text. A number (`-0.5`) is left as it is, and so are dashes alone (the gradebook's `--`).
"""
from __future__ import annotations

import re

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?|-+")


def spreadsheet_text(cell):
    """`cell`, with a quote in front when it is a string a spreadsheet would take for a formula."""
    if isinstance(cell, str) and cell.startswith(_FORMULA_START) and not _NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def spreadsheet_rows(rows) -> list[list]:
    """Every row's cells through spreadsheet_text."""
    return [[spreadsheet_text(cell) for cell in row] for row in rows]

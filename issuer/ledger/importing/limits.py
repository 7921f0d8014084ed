"""What an import file may hold, in one place. A file over a limit is
refused, naming the limit, as soon as the reader reaches the row, column or
cell that breaks it: nothing past it is read, so a small file that claims
(or unpacks to) a huge sheet costs no more than the limit.

The README's "Limits" table says the same numbers; change both together."""

from __future__ import annotations

from dataclasses import dataclass

MAX_COLUMNS = 64  # a value in a column past this is refused (docs/formats.md's files have 5 to 9)
MAX_CELL = 2_000  # characters in one cell, header or value (the longest field, a project name, is 300)
MAX_FILE_BYTES = 128 * 1024 * 1024  # the file as given: CSV text or the XLSX zip
MAX_XLSX_PARTS = 1_000  # files inside an XLSX (a workbook of a few sheets has about 15)
# A sheet's XML may hold this many elements (rows, cells, formatting) and
# 200 more for each row of data (64 cells of text take 193): a sheet of
# padding, however small its file, is refused within a second or so.
MAX_IDLE_ELEMENTS = 500_000
ELEMENTS_PER_ROW = 200
# Excel keeps each distinct text once, in a shared-string table read before
# the sheet: it may hold 500,000 (MAX_IDLE_ELEMENTS) and 8 more for each row
# a file of its kind may have.
STRINGS_PER_ROW = 8
MAX_ERRORS = 200  # a refusal lists the first this many errors, by row, and counts the rest

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    what: str  # the kind of file, for messages
    what_en: str
    rows: int  # data rows (blank rows are not counted)
    # What an XLSX may unpack to, all its parts together: reading takes about
    # a second for each 10 MB. openpyxl writes about 320 bytes for a row of
    # docs/formats.md's records columns; Excel and WPS, with shared strings, less.
    unpacked: int
    columns: int = MAX_COLUMNS
    cell: int = MAX_CELL


# A city's teachers (the sample's bureau has 2,400; the benchmark, 10,000).
ROSTER = Limits("教师名册", "roster", 100_000, 128 * MB)
# The approved projects of a cycle (the sample has 537).
PROJECTS = Limits("培训项目备案", "projects", 50_000, 64 * MB)
# The bureau's records: about 300,000 a year for 10,000 teachers, and the
# benchmark imports a whole cycle's 288,521 in one file.
RECORDS = Limits("培训记录", "records", 500_000, 320 * MB)
# One school's declaration, through the office pages or the API (uploads of
# at most 10 MB), read while a web worker waits: a school has a few hundred
# teachers, a few thousand records a year.
DECLARATION = Limits("学校申报的培训记录", "a school's declared records", 50_000, 24 * MB)

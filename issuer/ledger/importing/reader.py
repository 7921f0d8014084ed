"""Reading a CSV (UTF-8, with or without BOM; or GB18030, which Chinese
Excel saves "CSV" in) or XLSX file into rows keyed by column, matching
Chinese headers and their English aliases.

Rows are read as a stream and the limits of limits.py are checked as they
come: a file is refused at the first row, column or cell past a limit,
before anything after it is read or kept. Whatever the bytes, the outcome is
a Table or ImportRefused naming the file and the problem: the zip and XML
parsers read untrusted bytes, and anything they raise means the file cannot
be read, never a traceback."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import os
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple, TypeVar, cast
from xml.etree.ElementTree import Element, iterparse

from .fields import FieldError
from .limits import (
    ELEMENTS_PER_ROW,
    MAX_FILE_BYTES,
    MAX_IDLE_ELEMENTS,
    MAX_XLSX_PARTS,
    MB,
    STRINGS_PER_ROW,
    Limits,
)
from .progress import CHECK, READ, Counter, Progress
from .report import ErrorList, ImportRefused, RowError

if TYPE_CHECKING:
    from openpyxl.worksheet._reader import WorkSheetParser

T = TypeVar("T")
# (row number, cells) as a reader yields them; a file's cells are whatever it holds
Rows = Generator[tuple[int, list[Any]], None, None]

EXCEL_ROWS, EXCEL_COLUMNS = 1_048_576, 16_384  # a sheet's own bounds: anything past them is damage
MAX_HELD = 10_000  # XML elements held at once, inside one cell (rich-text runs) or one setting


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    en: str
    parse: Callable[[Any], Any]
    required: bool = True  # the column must be present (its cells may still be optional)


@dataclass
class Table:
    file: str
    headers: dict[str, str]  # column key → header as the file wrote it
    rows: list[tuple[int, list[Any]]]  # (spreadsheet row number, cells)
    positions: dict[str, int]
    ignored: list[str]
    encoding: str | None = None  # a CSV read in an encoding other than UTF-8 (GB18030)

    @property
    def notes(self) -> list[str]:
        """What the import's result should say about how the file was read."""
        return _encoding_notes(self.encoding)


def _encoding_notes(encoding: str | None) -> list[str]:
    if encoding is None:
        return []
    return [
        f"按 {encoding} 编码读取（文件不是 UTF-8；Excel 默认的“CSV”即此编码）"
        f" / read as {encoding}: the file is not UTF-8"
    ]


@dataclass(frozen=True)
class Source:
    """What an import reads: a file's name and bytes, or (the office API's
    JSON) a header and rows already in memory. Read once: the import checks
    it and logs its digest from the same bytes."""

    name: str
    data: bytes = b""
    rows: tuple[tuple[str, ...], ...] | None = None  # the header first

    @classmethod
    def of(cls, source: Path | Source) -> Source:
        """A path's file, read up to MAX_FILE_BYTES (a larger one is refused)."""
        if isinstance(source, Source):
            return source
        return cls(source.name, _read_bytes(source, source.name))

    @classmethod
    def from_rows(cls, name: str, header: Sequence[str], rows: Iterable[Sequence[str]]) -> Source:
        """Rows keyed by position under `header`; row n of the table is rows[n - 2], as in a file."""
        return cls(name, rows=(tuple(header), *(tuple(r) for r in rows)))

    @property
    def sha256(self) -> str:
        """Of the file's bytes; of the rows as canonical JSON when given rows."""
        content = self.data if self.rows is None else json.dumps(self.rows, ensure_ascii=False).encode()
        return hashlib.sha256(content).hexdigest()


class _Fault(Exception):
    """A cell a reader will not take (kind: long, columns, quote, damaged);
    RowStream names its column by the header, once the header is known."""

    def __init__(
        self, row: int, index: int, value: object, kind: str, length: int = 0, cause: str = ""
    ) -> None:
        super().__init__(kind)
        self.row, self.index, self.value, self.kind = row, index, value, kind
        self.length, self.cause = length, cause


def read_table(
    source: Path | Source, columns: list[Column], limits: Limits, progress: Progress | None = None
) -> Table:
    """The whole file's rows, in memory (a roster or a projects file: the
    records import streams them instead, through open_table)."""
    stream = open_table(source, columns, limits, progress)
    try:
        rows = [row for chunk in stream.chunks(limits.rows + 1) for row in chunk]
    finally:
        stream.close()
    return Table(stream.file, stream.headers, rows, stream.positions, stream.ignored, stream.encoding)


class RowStream:
    """A file whose header has been read and matched, and whose data rows
    are read as they are asked for, a chunk at a time (chunks()): nothing of
    the rows is kept here, so an import holds only the chunk it works on.
    The limits are checked as the rows come; a refusal (ImportRefused) may
    come from any chunk, and "no data rows" after the last."""

    def __init__(
        self,
        name: str,
        rows: Rows,
        columns: list[Column],
        limits: Limits,
        progress: Progress | None,
        encoding: str | None,
        estimate: int | None,
    ) -> None:
        self.file, self.encoding, self.limits = name, encoding, limits
        # a guess of how many data rows there are (a CSV's line breaks), for the bars
        self.estimate = estimate
        self._rows, self._read = rows, Counter(progress, READ, estimate)
        self._header: list[Any] = []
        try:
            with _openpyxl_quiet():
                first = next(rows, None)
        except _Fault as f:
            rows.close()
            raise ImportRefused(name, [_fault_error(f, [], limits)]) from None
        except BaseException:
            rows.close()
            raise
        if first is None or first[0] != 1 or not any(c not in (None, "") for c in first[1]):
            rows.close()
            raise ImportRefused(
                name, [_file_error("文件为空或首行不是表头", "empty file, or the first row is not a header")]
            )
        self._header = first[1]
        try:
            self.headers, self.positions, self.ignored = _match_header(name, self._header, columns)
        except BaseException:
            rows.close()
            raise
        self.count = 0  # data rows read so far
        self.ended = False  # the file is read to its end (set before its last chunk is given)

    @property
    def notes(self) -> list[str]:
        return _encoding_notes(self.encoding)

    def chunks(self, size: int) -> Iterator[list[tuple[int, list[Any]]]]:
        """The data rows (blank ones skipped), `size` at a time, the last
        chunk possibly shorter; refuses the file at the first row past the
        row limit, the first cell past a limit, or, once the file is read,
        if it has no data row."""
        name, most = self.file, self.limits.rows
        done = False
        while not done:
            chunk: list[tuple[int, list[Any]]] = []
            try:
                with _openpyxl_quiet():
                    for n, r in self._rows:
                        if _holds_value(r):
                            if self.count == most:
                                raise _too_many_rows(name, n, self.limits)
                            self.count += 1
                            chunk.append((n, r))
                            self._read.add()
                            if len(chunk) == size:
                                break
                    else:
                        done = True
            except _Fault as f:
                raise ImportRefused(name, [_fault_error(f, self._header, self.limits)]) from None
            if done:
                if not self.count:
                    raise ImportRefused(
                        name, [_file_error("文件只有表头，没有数据行", "the file has a header but no rows")]
                    )
                self._read.total = self.count
                self._read.finish()
                self.ended = True
            if chunk:
                yield chunk

    def close(self) -> None:
        self._rows.close()


@contextmanager
def _openpyxl_quiet() -> Iterator[None]:
    """openpyxl warns about what it skips (an unknown extension, a date out
    of range read as an error value): the import says what matters itself."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"openpyxl\b")
        yield


def open_table(
    source: Path | Source, columns: list[Column], limits: Limits, progress: Progress | None = None
) -> RowStream:
    """The file opened, its header read and matched; its rows to be read by
    the stream's chunks(). Close the stream when done (or refused)."""
    source = Source.of(source)
    name, data = source.name, source.data
    encoding = None
    estimate: int | None = None
    if len(data) > MAX_FILE_BYTES:  # an upload's bytes, given as they came
        raise _too_large(name)
    if source.rows is not None:
        rows: Rows = _memory_rows(source.rows, limits)
        estimate = len(source.rows) - 1
    elif data[:4] == b"PK\x03\x04":
        rows = _xlsx_rows(name, data, limits)
    elif data[:4] == b"\xd0\xcf\x11\xe0":
        raise ImportRefused(
            name,
            [
                _file_error(
                    "不支持旧版 Excel（.xls）文件：请另存为 .xlsx 或 CSV（UTF-8）",
                    "old .xls files are not supported; save as .xlsx or UTF-8 CSV",
                )
            ],
        )
    elif Path(name).suffix.lower() == ".xlsx":
        raise ImportRefused(
            name,
            [
                _file_error(
                    "不是有效的 .xlsx 文件：文件内容不是 Excel 工作簿（不是 zip 格式），可能已损坏或扩展名有误",
                    "not a valid XLSX file: the content is not a zip archive",
                )
            ],
        )
    else:
        encoding = _csv_encoding(name, data)
        rows = _csv_records(name, data, encoding, _delimiter(data, encoding), limits)
        # its line breaks, less the header's: exact unless cells hold line breaks or rows are blank
        estimate = max(data.count(b"\n") + (not data.endswith(b"\n")) - 1, 0)
    return RowStream(name, rows, columns, limits, progress, encoding, estimate)


def _holds_value(cells: list[Any]) -> bool:
    """Whether a row is not blank (most rows say so by their first cell)."""
    for c in cells:  # noqa: SIM110 (a loop: any() over a generator costs a second a records file)
        if c is not None and (c if isinstance(c, str) else str(c)).strip():
            return True
    return False


def _too_many_rows(name: str, n: int, limits: Limits) -> ImportRefused:
    return ImportRefused(
        name,
        [
            RowError(
                n,
                "",
                "",
                f"数据超过 {limits.rows:,} 行，超出{limits.what}每个文件的上限：请分成几个文件导入",
                f"more than {limits.rows:,} data rows, the limit for {limits.what_en}; split the file",
            )
        ],
    )


def _memory_rows(rows: Iterable[Sequence[str]], limits: Limits) -> Rows:
    """Rows in memory as a reader yields them (header = 1), held to the cell limit."""
    for n, cells in enumerate(rows, start=1):
        for i, c in enumerate(cells):
            if len(c) > limits.cell:
                raise _Fault(n, i, c, "long", len(c))
        yield n, list(cells)


def _file_error(message: str, detail: str) -> RowError:
    return RowError(None, "", "", message, detail)


def _read_bytes(path: Path, name: str) -> bytes:
    """The file, if it is at most MAX_FILE_BYTES: a larger one is not read,
    and what says it is small (a device, a file still growing) is read to
    the limit and no further."""
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            data = f.read(size + 1) if size <= MAX_FILE_BYTES else None
            if data is not None and size < len(data) <= MAX_FILE_BYTES:
                data += f.read(MAX_FILE_BYTES + 1 - len(data))
    except OSError as e:
        raise ImportRefused(
            name, [_file_error("无法读取文件", f"cannot read the file: {e.strerror}")]
        ) from None
    if data is None or len(data) > MAX_FILE_BYTES:
        raise _too_large(name)
    return data


def _too_large(name: str) -> ImportRefused:
    mb = MAX_FILE_BYTES // (1024 * 1024)
    return ImportRefused(
        name,
        [
            _file_error(
                f"文件过大：超过 {mb} MB 的上限，请分成几个文件导入",
                f"file over the limit of {mb} MB; split it",
            )
        ],
    )


# -- CSV ---------------------------------------------------------------------


_PIECE = 1 << 20  # bytes of a CSV decoded at a time


def _csv_encoding(name: str, data: bytes) -> str | None:
    """None for UTF-8, or the encoding the file is in. Chinese Excel saves
    "CSV" in GBK, which GB18030 contains: bytes that are not UTF-8 (with or
    without BOM) are read as GB18030 if they are that, and the result says so.
    UTF-8 comes first: GB18030 would read most UTF-8 Chinese as other,
    wrong characters, while UTF-8 almost never reads GB18030's bytes. The
    text is decoded a piece at a time and let go: it is read again, the same
    way, as the rows are read (_text_pieces)."""
    utf8_error: UnicodeDecodeError | None = None
    for encoding in (None, "GB18030"):
        try:
            for _ in _text_pieces(data, encoding):
                pass
            return encoding
        except UnicodeDecodeError as e:
            utf8_error = utf8_error or e
    if utf8_error is not None:
        try:  # where in the whole file, for the message
            data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            utf8_error = e
    raise ImportRefused(
        name,
        [
            _file_error(
                "文件既不是 UTF-8 编码，也不是 GB18030（GBK）编码：请在 Excel 中另存为“CSV UTF-8”",
                f"neither UTF-8 (byte {utf8_error.start if utf8_error else 0}) nor GB18030; save as 'CSV UTF-8'",
            )
        ],
    ) from None


def _text_pieces(data: bytes, encoding: str | None) -> Iterator[str]:
    """The text of a CSV (None: UTF-8, its BOM left out; or GB18030, its own
    BOM left out too), _PIECE bytes at a time."""
    decoder = codecs.getincrementaldecoder("utf-8-sig" if encoding is None else encoding.lower())()
    view, bom = memoryview(data), encoding is not None
    for i in range(0, len(data), _PIECE):
        piece = decoder.decode(view[i : i + _PIECE], final=i + _PIECE >= len(data))
        if bom and piece:
            piece, bom = piece.removeprefix("\ufeff"), False
        if piece:
            yield piece


def _csv_text(data: bytes, encoding: str | None) -> str:
    """The whole text, for a refusal's post-mortem (_csv_fault)."""
    return "".join(_text_pieces(data, encoding))


def _delimiter(data: bytes, encoding: str | None) -> str:
    first = next(_text_pieces(data, encoding), "")[:200_000].split("\n", 1)[0]
    return max(",\t;", key=first.count)


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)?")  # a line and its end, which is empty only at the text's end


def _lines(pieces: Iterable[str], longest: int) -> Iterator[str]:
    """The text's lines as io.StringIO(text, newline="") splits them (at
    \\n, \\r\\n or \\r, each kept), from its pieces, without a copy of the
    whole text. A line growing past `longest` is given as it stands (the
    caller refuses it) rather than kept growing."""
    carry = ""
    for piece in pieces:
        text, pos = carry + piece, 0
        for m in _LINE.finditer(text):
            line, end = m.group(), m.end()
            # the last line of a piece may go on in the next; a \r at its end may be a \r\n's
            if not line or line[-1] != "\n" and (line[-1] != "\r" or end == len(text)):
                break
            yield line
            pos = end
        carry = text[pos:]
        if len(carry) > longest:
            yield carry
            return
    if carry:
        yield carry


class _LongLine(Exception):
    pass


def _csv_records(
    name: str, data: bytes, encoding: str | None, delimiter: str, limits: Limits
) -> Generator[tuple[int, list[str]], None, None]:
    """(record number, cells), header = 1. A line longer than a row of
    `columns` full cells (and an Excel row's empty ones) is not handed to the
    csv module, which would make a list of all its cells."""
    longest = limits.columns * (limits.cell + 3) + EXCEL_COLUMNS
    taken = [0]  # characters of text handed to the csv module so far
    held: list[list[str]] = [[]]  # the lines of the record being read

    def lines() -> Iterator[str]:
        for line in _lines(_text_pieces(data, encoding), longest):
            if len(line) > longest:
                raise _LongLine
            taken[0] += len(line)
            held[0].append(line)
            yield line

    row_no = start = 0  # start: where the record being read begins
    last: list[str] = []  # the lines of the record before it
    try:
        for row_no, cells in enumerate(csv.reader(lines(), delimiter=delimiter), start=1):
            # a record shorter than the cell limit cannot hold a cell over it (most never look)
            if (
                len(cells) > limits.columns
                and any(cells[limits.columns :])
                or taken[0] - start > limits.cell
                and max(map(len, cells)) > limits.cell
            ):
                # the record's text says which cell, and whether a quote is to blame
                raise _csv_fault(name, _csv_text(data, encoding), start, row_no, delimiter, limits, None)
            yield row_no, cells
            start, last, held[0] = taken[0], held[0], []
    except (csv.Error, _LongLine) as e:  # a cell over the csv module's own limit, or such a line
        raise _csv_fault(name, _csv_text(data, encoding), start, row_no + 1, delimiter, limits, e) from None
    # The csv module ends a quote left open at the end of the file without a
    # word, the rest of the file in one cell: the fault of the record it opened in.
    fault = _first_fault("".join(last), 0, delimiter, limits) if row_no else None
    if fault is not None and fault.kind == "quote":
        fault.row = row_no
        raise fault


def _csv_fault(
    name: str, text: str, start: int, row_no: int, delimiter: str, limits: Limits, error: Exception | None
) -> Exception:
    """The csv module (or the line bound) stopped at a record: find the cell
    to blame by reading the record's text again."""
    fault = _first_fault(text, start, delimiter, limits)
    if fault is not None:
        fault.row = row_no
        return fault
    if error is None:  # _over saw it: cannot happen unless the two readings differ
        return ImportRefused(
            name,
            [
                RowError(
                    row_no,
                    "",
                    "",
                    "这一行超出列数或单元格长度的上限",
                    "the row is over the limits on columns or cells",
                )
            ],
        )
    if isinstance(error, _LongLine):
        return ImportRefused(
            name,
            [
                RowError(
                    row_no,
                    "",
                    "",
                    "这一行过长，超出列数与单元格长度的上限",
                    "the line is longer than the limits on columns and cells allow",
                )
            ],
        )
    return ImportRefused(
        name, [RowError(row_no, "", "", f"CSV 格式错误：{error}", f"malformed CSV: {error}")]
    )


def _first_fault(text: str, pos: int, delimiter: str, limits: Limits) -> _Fault | None:
    """The first cell of the record starting at `pos` that the reader would
    refuse, read as the csv module reads it (quotes open only at a cell's
    start; "" inside quotes is a quote; after the closing quote, text up to
    the delimiter joins the cell)."""
    stop = re.compile(f"[{re.escape(delimiter)}\r\n]")
    col = 0
    while True:
        begin, quoted = pos, text.startswith('"', pos)
        if quoted:
            pos = _closing_quote(text, pos + 1)
            if pos < 0:
                return _Fault(0, col, "", "quote")
            pos += 1
        m = stop.search(text, pos)
        end = m.start() if m else len(text)
        length = end - begin - (2 if quoted else 0)
        if length > limits.cell:
            return _Fault(0, col, text[begin + quoted : begin + 40], "long", length)
        if col >= limits.columns and length > 0:
            return _Fault(0, col, text[begin + quoted : min(end, begin + 40)], "columns")
        if m is None or m.group() != delimiter:
            return None
        col, pos = col + 1, end + 1


def _closing_quote(text: str, i: int) -> int:
    while True:
        j = text.find('"', i)
        if j < 0 or not text.startswith('"', j + 1):
            return j
        i = j + 2


# -- XLSX --------------------------------------------------------------------


def _xlsx_rows(name: str, data: bytes, limits: Limits) -> Rows:
    """The first worksheet's rows that hold a value, (sheet row number,
    values from column A). The sheet is parsed here, element by element,
    rather than by openpyxl's iter_rows, which pads every row to the sheet's
    declared dimension, fills in the rows between and builds a whole row
    before anyone can look at it: a 1.6 KB file declaring A1:CV1048576 with
    one cell in its last row made a gigabyte of rows of None."""
    _check_zip(name, data, limits)
    book = _guarded(name, data, None, lambda: _Workbook(name, data, limits))
    try:
        source = _guarded(name, data, book.part, lambda: book.archive.open(book.part))
        try:
            yield from _sheet_rows(name, book.part, source, book.cells, limits)
        finally:
            source.close()
    finally:
        book.archive.close()


class _Workbook:
    """What openpyxl's load_workbook(read_only=True) reads before a sheet
    (content types, shared strings, the workbook and its styles, which say
    which numbers are dates), the first worksheet's part, and openpyxl's cell
    reader set up as its read-only sheets set it up. load_workbook itself
    would first read every sheet of the workbook looking for its dimension,
    all the way through a sheet that has none."""

    def __init__(self, name: str, data: bytes, limits: Limits) -> None:
        from openpyxl.reader.excel import ExcelReader
        from openpyxl.styles.stylesheet import apply_stylesheet
        from openpyxl.worksheet._reader import WorkSheetParser
        from openpyxl.xml.constants import SHARED_STRINGS

        reader = ExcelReader(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
        self.archive = reader.archive
        reader.read_manifest()
        # Manifest.find is left unannotated in the stubs
        table = reader.package.find(SHARED_STRINGS)  # type: ignore[no-untyped-call]
        if table is not None:
            reader.shared_strings = _shared_strings(name, reader.archive, table.PartName[1:], limits)
        reader.read_workbook()
        wb = reader.wb
        apply_stylesheet(reader.archive, wb)
        # the first worksheet, as load_workbook's worksheets[0]: chart sheets and missing parts skipped
        part = next(
            (
                rel.target
                for _, rel in reader.parser.find_sheets()
                if rel.target in reader.valid_files and "chartsheet" not in rel.Type
            ),
            None,
        )
        if part is None:
            raise KeyError("the workbook has no worksheet")
        self.part: str = part
        # The stubs know neither a parser without a source (only its cell
        # parser is used here, as openpyxl's read-only sheets use it) nor the
        # workbook's private format sets, which its reader fills.
        self.cells = WorkSheetParser(
            None,  # type: ignore[arg-type]
            reader.shared_strings,
            data_only=True,
            epoch=wb.epoch,
            date_formats=wb._date_formats,  # type: ignore[attr-defined]
            timedelta_formats=wb._timedelta_formats,  # type: ignore[attr-defined]
        )


def _shared_strings(name: str, archive: zipfile.ZipFile, part: str, limits: Limits) -> list[str]:
    """The workbook's table of distinct texts, as openpyxl's read_string_table
    reads it (four times faster), at most MAX_IDLE_ELEMENTS and
    STRINGS_PER_ROW for each row a file of its kind may have."""
    most = MAX_IDLE_ELEMENTS + STRINGS_PER_ROW * limits.rows
    out: list[str] = []
    root: Element | None = None
    held = 0
    with archive.open(part) as source:
        for event, el in iterparse(source, events=("start", "end")):
            if event == "start":
                root = el if root is None else root
                held += 1
                if held > MAX_HELD:
                    raise ValueError(f"over {MAX_HELD} XML elements in one shared string")
            elif el.tag == _SI_TAG:
                out.append(_text(el).replace("x005F_", ""))
                assert root is not None  # an element's end comes after the document's start
                root.clear()  # what has been read is let go
                held = 0
                if len(out) > most:
                    raise ImportRefused(
                        name,
                        [
                            _file_error(
                                f"XLSX 文件的共享字符串表过大（超过 {most:,} 项，{limits.what}的上限）："
                                "请只把数据复制到新工作簿再导入",
                                f"the XLSX's shared-string table has over {most:,} entries, the limit for "
                                f"{limits.what_en}",
                            )
                        ],
                    )
    return out


def _check_zip(name: str, data: bytes, limits: Limits) -> None:
    """What the zip says it unpacks to, before anything is unpacked (zipfile
    stops at each part's declared size, so the declaration bounds the work)."""
    try:
        parts = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except Exception as e:  # zipfile's own errors, or a struct error from a mangled directory
        raise _damaged(name, e, None) from None
    total = sum(p.file_size for p in parts)
    if len(parts) > MAX_XLSX_PARTS or total > limits.unpacked:
        raise ImportRefused(
            name,
            [
                _file_error(
                    f"XLSX 文件解压后过大（{len(parts)} 个部分，共 {total // MB:,} MB；{limits.what}的上限为 "
                    f"{limits.unpacked // MB} MB、{MAX_XLSX_PARTS} 个部分）：请只保留数据，或分成几个文件导入",
                    f"the XLSX unpacks to {total:,} bytes in {len(parts)} parts; the limit for {limits.what_en} is "
                    f"{limits.unpacked:,} bytes and {MAX_XLSX_PARTS} parts",
                )
            ],
        )


def _guarded(name: str, data: bytes, part: str | None, read: Callable[[], T]) -> T:
    try:
        return read()
    except ImportRefused:
        raise
    except Exception as e:  # openpyxl and zipfile on untrusted bytes: any error is a damaged file
        raise _damaged(name, e, part, data) from None


def _parsed(name: str, part: str, source: IO[bytes]) -> Iterator[tuple[str, Element]]:
    """iterparse's events; its errors (bad XML, a corrupt deflate stream, a
    bad CRC) are the file's, not ours."""
    try:
        yield from iterparse(source, events=("start", "end"))
    except Exception as e:
        raise _damaged(name, e, part) from None


def _sheet_rows(name: str, part: str, source: IO[bytes], parser: WorkSheetParser, limits: Limits) -> Rows:
    """Rows that hold a value, checked against the limits cell by cell; the
    elements read are let go as the parse goes on."""
    from openpyxl.worksheet._reader import CELL_TAG, DATA_TAG, ROW_TAG

    opened: list[Any] = [None] * 5  # the open elements at depths 1 to 4: worksheet, sheetData, row, c
    depth, held, row_no, cells = 0, 0, 0, 0
    values: dict[int, Any] = {}  # column → the cell's value
    seen, budget, data_rows = 0, MAX_IDLE_ELEMENTS, 0
    for event, el in _parsed(name, part, source):
        if event == "start":
            seen += 1
            if seen > budget:  # padding (empty rows, styled cells) far beyond the data: read no further
                raise _padded(name, row_no, seen, data_rows)
            depth += 1
            if depth > 4:  # inside a cell (its value, rich text): kept until the cell ends
                held += 1
                if held > MAX_HELD:
                    raise _damaged(
                        name, ValueError(f"over {MAX_HELD} XML elements nested in one place"), part
                    )
                continue
            opened[depth] = el
            if depth == 4 and el.tag == CELL_TAG:
                cells += 1
                if cells > EXCEL_COLUMNS:
                    raise _damaged(name, ValueError(f"row {row_no} has over {EXCEL_COLUMNS} cells"), part)
            elif depth == 3 and el.tag == ROW_TAG and opened[2].tag == DATA_TAG:
                row_no = _row_number(name, el.get("r"), row_no)
                parser.row_counter, parser.col_counter = row_no, 0
                cells, values = 0, {}
            continue
        depth -= 1
        if depth >= 4:
            continue
        held = 0
        if depth == 3 and el.tag == CELL_TAG and opened[3].tag == ROW_TAG:
            column, value = _cell(parser, el, row_no)
            if value is not None and value != "":
                if column > limits.columns:
                    raise _Fault(row_no, column - 1, value, "columns")
                if isinstance(value, str) and len(value) > limits.cell:
                    raise _Fault(row_no, column - 1, value, "long", len(value))
                values[column] = value
        elif depth == 2 and el.tag == ROW_TAG and values:
            data_rows += 1
            budget += ELEMENTS_PER_ROW
            yield row_no, [values.get(c) for c in range(1, max(values) + 1)]
        elif depth == 1 and el.tag == DATA_TAG:
            return  # what follows the data (merged cells, formatting, extensions) is not read at all
        if depth:
            opened[depth].clear()  # what has been read is let go: memory stays flat, whatever the sheet holds


def _padded(name: str, row_no: int, seen: int, data_rows: int) -> ImportRefused:
    return ImportRefused(
        name,
        [
            RowError(
                row_no or None,
                "",
                "",
                f"工作表中没有数据的内容过多（读到第 {row_no} 行，{seen:,} 个元素中只有 {data_rows} 行数据）："
                "请只把有数据的区域复制到新工作簿再导入",
                f"the sheet holds too much besides data ({seen:,} XML elements by row {row_no}, {data_rows} rows "
                "of data); copy the data alone into a new workbook",
            )
        ],
    )


def _row_number(name: str, r: str | None, previous: int) -> int:
    if r is None:
        return previous + 1
    try:
        n = int(r)
    except ValueError:
        n = 0
    if not previous < n <= EXCEL_ROWS:
        raise ImportRefused(
            name,
            [
                RowError(
                    previous + 1,
                    "",
                    "",
                    f"工作表行号 {r[:20]} 有误：文件已损坏",
                    f"bad row number {r[:20]!r} after row {previous}: the file is damaged",
                )
            ],
        )
    return n


def _cell(parser: WorkSheetParser, el: Element, row_no: int) -> tuple[int, Any]:
    """(column, value) of a cell element. Text cells, most of a file, are
    read here (openpyxl's rich-text objects cost four times the parse);
    numbers, dates and the rest by openpyxl, by the workbook's styles."""
    try:
        if not len(el):  # no value (a styled empty cell): only its place counts
            r = el.get("r")
            parser.col_counter = _coordinate_column(r) if r else parser.col_counter + 1
            return parser.col_counter, None
        kind = el.get("t")
        if kind not in ("s", "inlineStr", "str"):
            cell = parser.parse_cell(el)
            # its "column" is an int; the stubs type every entry as a cell value
            return cast(int, cell["column"]), cell["value"]
        r = el.get("r")
        column = _coordinate_column(r) if r else parser.col_counter + 1
        parser.col_counter = column
        if kind == "inlineStr":
            return column, _inline_text(el)
        value = el.findtext(_VALUE_TAG) or None
        return column, (parser.shared_strings[int(value)] if kind == "s" and value is not None else value)
    except Exception as e:  # a shared-string index past the table, a number that is not one…
        m = re.match(r"[A-Z]{1,3}", el.get("r") or "")
        index = _column_index(m.group()) - 1 if m else parser.col_counter  # its place, as best known
        raise _Fault(row_no, index, "", "damaged", cause=f"{type(e).__name__}: {str(e)[:200]}") from None


_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_VALUE_TAG, _INLINE_TAG, _T_TAG, _RUN_TAG, _SI_TAG = (_MAIN + t for t in ("v", "is", "t", "r", "si"))


def _inline_text(el: Element) -> str | None:
    s = el.find(_INLINE_TAG)
    return None if s is None else _text(s)


def _text(el: Element) -> str:
    """As openpyxl's Text.content: the plain text, then each run's text;
    phonetic guides (rPh) left out."""
    if not len(el):
        return ""
    if len(el) == 1 and el[0].tag == _T_TAG:  # the usual: plain text alone
        return el[0].text or ""
    plain = el.find(_T_TAG)
    return ((plain.text or "") if plain is not None else "") + "".join(
        r.findtext(_T_TAG) or "" for r in el.iterfind(_RUN_TAG)
    )


def _coordinate_column(r: str) -> int:
    """The column of a reference such as "AB12", as openpyxl reads it."""
    letters = r.rstrip("0123456789").upper()
    if not (1 <= len(letters) <= 3 and len(letters) < len(r) and letters.isascii() and letters.isalpha()):
        raise ValueError(f"bad cell reference {r[:20]!r}")
    return _column_index(letters)


def _column_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


_DAMAGE = (
    ((zipfile.BadZipFile, EOFError), "压缩数据已损坏", "the compressed data is damaged"),
    ((SyntaxError,), "内容（XML）已损坏", "its XML is malformed"),  # xml.etree's ParseError
    ((KeyError,), "缺少必需的组成部分", "a required part is missing"),
)


def _damaged(name: str, error: Exception, part: str | None, data: bytes | None = None) -> ImportRefused:
    """The refusal of a file the zip or XML parsers could not read, naming
    the part at fault where it can be found."""
    import zlib

    part = part or (_damaged_part(data) if data is not None else None)
    zh, en = next(((zh, en) for types, zh, en in _DAMAGE if isinstance(error, types)), (None, None))
    if isinstance(error, zlib.error):
        zh, en = _DAMAGE[0][1:]
    where = f"其中 {part} 的" if part else ""
    return ImportRefused(
        name,
        [
            _file_error(
                f"不是有效的 .xlsx 文件：{where}{zh or '内容无法识别'}。请在 Excel 中打开后另存为 .xlsx 再导入",
                f"not a valid XLSX file{f' ({part})' if part else ''}: {en or 'it cannot be read'} "
                f"({type(error).__name__}: {str(error)[:200]})",
            )
        ],
    )


def _damaged_part(data: bytes) -> str | None:
    """The first part that does not unpack, or, if it is XML, does not parse
    (a refused file's post-mortem: every part was checked for size first)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        parts = archive.infolist()
    except Exception:
        return None
    for p in parts:
        try:
            with archive.open(p) as f:
                if p.filename.endswith((".xml", ".rels")):
                    for _ in iterparse(f):
                        pass
                else:
                    while f.read(1 << 20):
                        pass
        except Exception:
            return p.filename
    return None


# -- header and rows ------------------------------------------------------------


def fold_header(h: object) -> str:
    s = unicodedata.normalize("NFKC", "" if h is None else str(h)).strip().lower()
    s = re.sub(r"[\s_\-]", "", s)
    return s


def _header_keys(header: object, columns: list[Column]) -> str | None:
    folded = fold_header(header)
    bare = fold_header(re.sub(r"[(（][^)）]*[)）]", "", str(header or "")))
    for col in columns:
        names = {fold_header(col.zh), fold_header(col.en)}
        if folded in names or bare in names:
            return col.key
    return None


def _match_header(
    name: str, header: list[Any], columns: list[Column]
) -> tuple[dict[str, str], dict[str, int], list[str]]:
    headers: dict[str, str] = {}
    positions: dict[str, int] = {}
    ignored: list[str] = []
    errors: list[RowError] = []
    for i, h in enumerate(header):
        if h in (None, ""):
            continue
        key = _header_keys(h, columns)
        if key is None:
            ignored.append(str(h).strip())
        elif key in positions:
            errors.append(
                RowError(
                    1,
                    str(h),
                    "",
                    f"表头重复：与「{headers[key]}」是同一列",
                    f"duplicate header: same column as {headers[key]!r}",
                )
            )
        else:
            headers[key], positions[key] = str(h).strip(), i
    for col in columns:
        if col.required and col.key not in positions:
            errors.append(
                RowError(
                    1,
                    col.zh,
                    "",
                    f"缺少必需的列「{col.zh}」（或 {col.en}）",
                    f"missing required column {col.zh} ({col.en})",
                )
            )
    if errors:
        raise ImportRefused(name, errors)
    return headers, positions, ignored


def _fault_error(f: _Fault, header: list[Any], limits: Limits) -> RowError:
    column = _column_label(f.index, header if f.row > 1 else [])
    value = str(f.value)
    shown = value if len(value) <= 40 else value[:40] + "…"
    if f.kind == "long":
        return RowError(
            f.row,
            column,
            shown,
            f"单元格过长：{f.length:,} 字，上限 {limits.cell:,} 字",
            f"cell of {f.length:,} characters, over the limit of {limits.cell:,}",
        )
    if f.kind == "columns":
        return RowError(
            f.row,
            column,
            shown,
            f"超出 {limits.columns} 列的上限：请删除多余的列",
            f"a value past the limit of {limits.columns} columns; delete the extra columns",
        )
    if f.kind == "quote":
        return RowError(
            f.row,
            column,
            "",
            "引号不配对：这一格以英文双引号开头，直到文件末尾都没有闭合的引号",
            "unbalanced quote: the cell opens a double quote that is never closed",
        )
    return RowError(
        f.row,
        column,
        "",
        "单元格内容已损坏，无法读取：请在 Excel 中打开后另存为 .xlsx 再导入",
        f"the cell cannot be read ({f.cause})",
    )


def _column_label(index: int, header: list[Any]) -> str:
    """The column's header where it has one, else its number and letter."""
    h = header[index] if index < len(header) else None
    if h not in (None, "") and len(str(h)) <= 60:
        return str(h).strip()
    letters, n = "", index + 1
    while n:
        n, r = divmod(n - 1, 26)
        letters = chr(65 + r) + letters
    return f"第 {index + 1} 列（{letters}）"


class ParsedRow(NamedTuple):  # a tuple: a records file makes hundreds of thousands
    row: int
    values: dict[str, Any]  # the cells that parsed
    ok: bool  # every cell parsed


def parse_rows(
    table: Table, columns: list[Column], progress: Progress | None = None
) -> tuple[list[ParsedRow], ErrorList]:
    """Each row parsed cell by cell; every bad cell becomes a RowError. Rows
    with bad cells are kept with the cells that did parse, so checks across
    rows (duplicates) still see them and the clerk gets every error at once."""
    errors = ErrorList()
    checked = Counter(progress, CHECK, len(table.rows))
    parsed = RowParser(columns, table.headers, table.positions).parse(table.rows, errors, checked)
    checked.finish()
    return parsed, errors


# Distinct texts a column remembers the outcome of (a records file repeats
# a few thousand ID numbers and a few hundred codes and dates all through).
MEMO_SIZE = 50_000


class RowParser:
    """Rows parsed cell by cell by their columns' parsers, which are pure: a
    text a column has already parsed is not parsed again (its value, or its
    FieldError, is remembered, up to MEMO_SIZE texts a column)."""

    def __init__(self, columns: list[Column], headers: dict[str, str], positions: dict[str, int]) -> None:
        self.headers = headers
        # a column missing from the file (an optional one) reads as empty, as past a row's last cell
        self.columns: list[tuple[Column, int, dict[str, Any]]] = [
            (c, positions.get(c.key, EXCEL_COLUMNS), {}) for c in columns
        ]
        self.width = len(columns)

    def parse(
        self, rows: Iterable[tuple[int, list[Any]]], errors: ErrorList, counter: Counter | None = None
    ) -> list[ParsedRow]:
        """The rows parsed; each bad cell's RowError added to `errors`, each
        row counted by `counter`."""
        out: list[ParsedRow] = []
        columns, width = self.columns, self.width
        for row_no, cells in rows:
            values: dict[str, Any] = {}
            n = len(cells)
            for col, pos, memo in columns:
                raw = cells[pos] if pos < n else None
                if isinstance(raw, str):
                    raw = raw.strip()
                    outcome = memo.get(raw, memo)  # the memo itself: not seen yet
                    if outcome is memo:
                        outcome = _outcome(col, raw)
                        if len(memo) >= MEMO_SIZE:
                            memo.clear()
                        memo[raw] = outcome
                else:
                    outcome = _outcome(col, raw)
                if isinstance(outcome, FieldError):
                    errors.append(
                        RowError(
                            row_no,
                            self.headers.get(col.key, col.zh),
                            "" if raw is None else str(raw),
                            outcome.message,
                            outcome.detail,
                        )
                    )
                else:
                    values[col.key] = outcome
            out.append(ParsedRow(row_no, values, len(values) == width))
            if counter is not None:
                counter.add()
        return out


def _outcome(col: Column, raw: object) -> Any:
    try:
        return col.parse(raw)
    except FieldError as e:
        return e


def find_duplicates(parsed: list[ParsedRow], keys: tuple[str, ...]) -> list[tuple[ParsedRow, int]]:
    """(row, first row) for each row whose key cells repeat an earlier row's."""
    seen: dict[tuple[Any, ...], int] = {}
    out: list[tuple[ParsedRow, int]] = []
    for p in parsed:
        if not all(k in p.values for k in keys):
            continue
        key = tuple(p.values[k] for k in keys)
        if key in seen:
            out.append((p, seen[key]))
        else:
            seen[key] = p.row
    return out

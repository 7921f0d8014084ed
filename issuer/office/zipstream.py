"""A ZIP archive written as it is sent: a response streams it file by file,
never holding more than one block of one file, so that a school's 2,400
PDFs (some 140 MB) or a region's leave the web process's memory flat.

Entries are stored, not deflated: a PDF is compressed inside already, and
deflating it again costs CPU for a per cent or two. The archive goes to a
stream that cannot seek, so Python's zipfile writes each entry's CRC and
sizes after its data (a data descriptor, which every unzip reads); names
that are not ASCII carry the UTF-8 flag (zipfile sets it), so 王芳 stays
王芳 in Windows' Explorer as in unzip.

An entry is a file, or a key in the service's store (issuer/storage.py):
each is opened when its turn comes and read block by block, so a store in
the database streams as a folder does.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

from issuer.storage import OpenFile, Storage, StoredFile
from verifier.clock import CHINA

BLOCK = 1 << 16


class _Sink(io.RawIOBase):
    """Where zipfile writes: kept until the generator hands it on. Not
    seekable, not tellable: zipfile counts the offsets itself."""

    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, b: bytes, /) -> int:  # type: ignore[override]  # zipfile writes bytes only
        self._parts.append(bytes(b))
        return len(b)

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def stream(
    entries: Iterable[tuple[str, Path | str]], block: int = BLOCK, store: Storage | None = None
) -> Iterator[bytes]:
    """The bytes of a ZIP holding each (name, file or key in `store`), in
    order, as they are made. One gone since it was listed is left out (a
    render replaces each whole, so one found is read whole)."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, where in entries:
            try:
                src = _open(where, store)
            except FileNotFoundError:
                continue
            with src:
                info = zipfile.ZipInfo(name, date_time=_dos_time(src.modified))
                info.compress_type = zipfile.ZIP_STORED
                info.file_size = src.size
                info.external_attr = 0o644 << 16
                with zf.open(info, "w") as dest:
                    while data := src.read(block):
                        dest.write(data)
                        if out := sink.take():
                            yield out
            if out := sink.take():
                yield out
    yield sink.take()  # the central directory


def _open(where: Path | str, store: Storage | None) -> StoredFile:
    if isinstance(where, Path):
        return OpenFile(where.open("rb"))
    if store is None:
        raise ValueError(f"{where!r}: a key, and no store to find it in")
    return store.open(where)


def _dos_time(mtime: float) -> tuple[int, int, int, int, int, int]:
    t = datetime.fromtimestamp(mtime, CHINA)
    if t.year < 1980:  # ZIP cannot say earlier
        return (1980, 1, 1, 0, 0, 0)
    return (t.year, t.month, t.day, t.hour, t.minute, t.second)

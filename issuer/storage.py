"""Where the service keeps the files it makes: certificate PDFs (a render
job's `pdfs/<number>.pdf`, the teachers' download cache `pdf-cache/…`),
written by any worker and read by any web server. One small interface,
three backends, chosen by ECERT_STORAGE (issuer/config.py):

- `folder` (the default, embedded): files under the data folder, exactly
  where they always were (data/pdfs, data/pdf-cache). Enough for one
  machine, or several sharing one network file system.
- `database`: the objects in the database of DATABASE_URL, so that workers
  and web servers on machines that share nothing but PostgreSQL (and the
  broker) see the same PDFs. SQLite too, for tests and a single machine.
- `s3://bucket/prefix`: an S3-compatible store (AWS S3, MinIO, Ceph…)
  through boto3, an optional dependency (`pip install teacher-ecert[s3]`),
  its endpoint and credentials boto3's own (AWS_ENDPOINT_URL,
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION).

The interface is small on purpose: put, open (streaming), read (bytes),
stat, list by prefix, delete, and a *tag* per object. Keys are relative
paths with `/` (`pdfs/6540040710000014.pdf`).

Design notes, why these choices:

- **Chunks in a table, not PostgreSQL large objects.** Large objects exist
  on PostgreSQL only (the tests and the embedded service run on SQLite),
  need their own clean-up (vacuumlo) and their own permissions. A table
  `stored_chunks` of 256 KB pieces runs on both, is dumped and restored
  with the rest of the register, and one certificate PDF (about 60 KB) is
  one row.
- **Atomic.** An object row (`stored_objects`) names the blob its chunks
  belong to. `put` writes a new blob's chunks, points the object at it and
  deletes the old blob's chunks, in one transaction: a reader sees the old
  PDF or the new one, never half. The folder writes under a temporary name
  and renames into place; an S3 PUT is atomic by itself (a large stream
  goes up as one multipart upload, visible only when complete).
- **Streaming.** `open` reads the chunks through one statement with a
  server-side cursor (PostgreSQL) or one read transaction (SQLite): memory
  stays at a few chunks however large the object, and that one statement's
  snapshot keeps the blob readable to the end even if a `put` replaces it
  meanwhile. A ZIP of a school's 2,400 PDFs opens them one at a time
  (issuer/office/zipstream.py). Small things (a PDF) can be `read` whole.
  The ZIP itself is not stored: any web server makes it from the shared
  PDFs as it sends it, so it needs no second copy and is never stale.
- **The tag is the render manifest.** A render job records, for each PDF,
  the render key it was made from (number → key: what the batch skips by
  and what the ZIP and the teacher's download check). In the database the
  tag is a column of the object's own row, so the manifest is shared by
  every machine, updated row by row (no file to merge under a lock, no
  lost update between two workers' chunks), and `list("pdfs/")` returns
  each PDF with its tag in one query. The folder keeps the tags of a
  folder's files in that folder's `.ecert-render.json` (by file name
  without its extension), the manifest `ecert render --out DIR` has always
  written, merged under a lock file: a folder rendered before this module
  stays valid. In S3 a tag is an empty marker object whose key ends with
  it (`<prefix>.tags/<key>/<tag>`), not object metadata, which a listing
  does not return: the ZIP of 2,400 PDFs needs two listings, not 2,400
  HEADs. A tag describes the content it was set for: writers set it after
  (or with) the `put`, readers trust it only when it equals the key they
  want, so a stale tag costs a rendering, never a wrong PDF.
"""

from __future__ import annotations

import errno
import fcntl
import io
import json
import os
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from verifier.clock import as_utc

from .config import Settings
from .db import write_session
from .errors import ConfigError
from .models import StoredChunk, StoredObject, utcnow

CHUNK = 256 * 1024  # bytes per stored chunk (a certificate PDF: one)
TAGS = ".ecert-render.json"  # a folder's tags (the render manifest, number → render key)
TAGS_LOCK = ".ecert-render.lock"
TEMPORARY = ".{name}.{pid}-{nonce}.tmp"  # two threads writing one name each have their own


@dataclass(frozen=True)
class Stat:
    size: int
    modified: float  # seconds since the epoch
    tag: str | None = None


class StoredFile(io.RawIOBase):
    """An object opened for reading: a binary stream with its size and time."""

    size: int = 0
    modified: float = 0.0

    def readable(self) -> bool:
        return True


class Storage(ABC):
    """What every backend does. Keys are relative `/` paths."""

    @abstractmethod
    def put(self, key: str, data: bytes | IO[bytes], *, tag: str | None = None) -> None:
        """Store the whole object, atomically (a reader sees all of it or the
        old one); a stream is copied chunk by chunk."""

    @abstractmethod
    def open(self, key: str) -> StoredFile:
        """The object for reading, streamed; FileNotFoundError if there is none."""

    @abstractmethod
    def stat(self, key: str) -> Stat | None: ...

    @abstractmethod
    def list(self, prefix: str) -> Iterator[tuple[str, Stat]]:
        """Every object whose key starts with `prefix` (a folder ends with /)."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Gone if it was there."""

    @abstractmethod
    def set_tags(self, tags: Mapping[str, str | None]) -> None:
        """Set (None: remove) the tag of each key, all at once; an object
        that does not exist keeps no tag."""

    def read(self, key: str) -> bytes | None:
        """A small object whole; None if there is none."""
        try:
            with self.open(key) as f:
                return f.read()
        except FileNotFoundError:
            return None

    def exists(self, key: str) -> bool:
        return self.stat(key) is not None

    def clean(self, prefix: str) -> int:
        """Leftovers of a write a killed process left under `prefix`; how many."""
        return 0

    def describe(self, prefix: str) -> str:
        """Where `prefix` is, for a page ("the folder …", "the database")."""
        return prefix


def storage_for(settings: Settings, engine: Engine) -> Storage:
    """The store ECERT_STORAGE names: the data folder, `engine`'s database,
    or an S3 bucket."""
    if settings.storage == "database":
        return DatabaseStorage(engine)
    if settings.storage.startswith("s3://"):
        bucket, _, prefix = settings.storage.removeprefix("s3://").partition("/")
        return S3Storage(bucket, prefix.strip("/") + "/" if prefix.strip("/") else "")
    return FolderStorage(settings.data_dir)


def _check_key(key: str) -> str:
    p = PurePosixPath(key)
    if not key or p.is_absolute() or ".." in p.parts or key.endswith("/") or "\\" in key:
        raise ValueError(f"not a storage key: {key!r}")
    return key


def _chunks(data: bytes | IO[bytes]) -> Iterator[bytes]:
    if isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
        yield from (raw[i : i + CHUNK] for i in range(0, len(raw), CHUNK))
        return
    while block := data.read(CHUNK):
        yield block


# -- the folder ------------------------------------------------------------


def write_file(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def write_atomically(
    path: Path,
    data: bytes | IO[bytes],
    write: Callable[[Path, bytes], None] = write_file,
    mode: int | None = None,
) -> None:
    """The whole file or nothing: written under a temporary name, renamed
    into place; the temporary file removed if the write fails (a full disk).
    `write` writes bytes to a path (a test's full disk replaces it); `mode`,
    if given, is set before the file takes its name."""
    tmp = path.with_name(TEMPORARY.format(name=path.name, pid=os.getpid(), nonce=uuid.uuid4().hex[:8]))
    try:
        if isinstance(data, bytes | bytearray | memoryview):
            write(tmp, bytes(data))
        else:
            with open(tmp, "wb") as out:
                for block in _chunks(data):
                    out.write(block)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def remove_temporaries(folder: Path) -> int:
    """Temporary files of write_atomically a killed run left behind."""
    n = 0
    for tmp in folder.glob(".*.tmp"):
        tmp.unlink(missing_ok=True)
        n += 1
    return n


class OpenFile(StoredFile):
    """A file on disk, opened for reading, as a StoredFile."""

    def __init__(self, f: IO[bytes]) -> None:
        super().__init__()
        self._f = f
        st = os.fstat(f.fileno())
        self.size, self.modified = st.st_size, st.st_mtime

    def readinto(self, b: Any) -> int:
        return self._f.readinto(b)  # type: ignore[attr-defined,no-any-return]  # a buffered binary file

    def close(self) -> None:
        self._f.close()
        super().close()


_tag_cache: dict[Path, tuple[tuple[int, int, int], dict[str, str]]] = {}


@dataclass(frozen=True)
class FolderStorage(Storage):
    """Files under `root`. `write` writes one file's bytes (a test's full disk)."""

    root: Path
    write: Callable[[Path, bytes], None] = write_file

    def path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def put(self, key: str, data: bytes | IO[bytes], *, tag: str | None = None) -> None:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, data, self.write, mode=0o600)  # PDFs carry personal data
        if tag is not None:
            self.set_tags({key: tag})

    def open(self, key: str) -> StoredFile:
        return OpenFile(self.path(key).open("rb"))

    def stat(self, key: str) -> Stat | None:
        path = self.path(key)
        try:
            st = path.stat()
        except OSError:
            return None
        if not path.is_file():
            return None
        return Stat(st.st_size, st.st_mtime, self._tags(path.parent).get(_stem(path.name)))

    def list(self, prefix: str) -> Iterator[tuple[str, Stat]]:
        folder = self.root / prefix.rpartition("/")[0]
        if not folder.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            here = Path(dirpath)
            rel = here.relative_to(self.root).as_posix()
            base = "" if rel == "." else rel + "/"
            tags = self._tags(here)
            for name in sorted(filenames):
                key = base + name
                if name.startswith(".") or not key.startswith(prefix):  # temporaries, tags, locks
                    continue
                try:
                    st = (here / name).stat()
                except OSError:
                    continue
                yield key, Stat(st.st_size, st.st_mtime, tags.get(_stem(name)))

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def set_tags(self, tags: Mapping[str, str | None]) -> None:
        by_folder: dict[Path, dict[str, str | None]] = {}
        for key, tag in tags.items():
            path = self.path(key)
            by_folder.setdefault(path.parent, {})[_stem(path.name)] = tag
        for folder, changes in by_folder.items():
            folder.mkdir(parents=True, exist_ok=True)
            with _locked(folder / TAGS_LOCK):
                merged = dict(_read_tags(folder))
                for name, tag in changes.items():
                    if tag is None:
                        merged.pop(name, None)
                    else:
                        merged[name] = tag
                write_atomically(folder / TAGS, json.dumps(merged, sort_keys=True).encode(), self.write)

    def clean(self, prefix: str) -> int:
        folder = self.root / prefix
        return remove_temporaries(folder) if folder.is_dir() else 0

    def describe(self, prefix: str) -> str:
        return f"文件夹 {self.root / prefix}"

    def _tags(self, folder: Path) -> dict[str, str]:
        """The folder's tags, read again only when they changed."""
        try:
            st = (folder / TAGS).stat()
        except OSError:
            return {}
        seen = (st.st_mtime_ns, st.st_ino, st.st_size)  # written anew (renamed into place): another inode
        cached = _tag_cache.get(folder)
        if cached is None or cached[0] != seen:
            cached = _tag_cache[folder] = (seen, _read_tags(folder))
        return cached[1]


def _stem(name: str) -> str:
    return name.rpartition(".")[0] or name


def _read_tags(folder: Path) -> dict[str, str]:
    """A file that is not such a JSON object holds no tags."""
    try:
        data = json.loads((folder / TAGS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# -- the database ----------------------------------------------------------

_objects = StoredObject.__table__
_chunks_t = StoredChunk.__table__


class _Rows(StoredFile):
    """An object's chunks, read through one statement as the reader asks."""

    def __init__(self, conn: Connection, key: str) -> None:
        super().__init__()
        self._conn = conn
        q = (
            select(_objects.c.size, _objects.c.modified_at, _chunks_t.c.data)
            .join(_chunks_t, _chunks_t.c.blob == _objects.c.blob)
            .where(_objects.c.key == key)
            .order_by(_chunks_t.c.seq)
        )
        try:
            self._rows = iter(conn.execution_options(stream_results=True, yield_per=4).execute(q))
            first = next(self._rows, None)
        except BaseException:
            conn.close()
            raise
        if first is None:
            conn.close()
            raise FileNotFoundError(errno.ENOENT, "no such stored object", key)
        self.size, self.modified = int(first.size), _epoch(first.modified_at)
        self._buf, self._at = bytes(first.data), 0

    def readinto(self, b: Any) -> int:
        view = memoryview(b).cast("B")
        while self._at >= len(self._buf):
            row = next(self._rows, None)
            if row is None:
                return 0
            self._buf, self._at = bytes(row.data), 0
        n = min(len(view), len(self._buf) - self._at)
        view[:n] = self._buf[self._at : self._at + n]
        self._at += n
        return n

    def close(self) -> None:
        if not self.closed:
            self._conn.close()
        super().close()


def _epoch(t: datetime | None) -> float:
    return as_utc(t).timestamp() if t else 0.0  # SQLite gives back a naive UTC time


@dataclass(frozen=True)
class DatabaseStorage(Storage):
    """Objects in the tables stored_objects (key → blob, size, time, tag)
    and stored_chunks (blob, seq → bytes)."""

    engine: Engine

    def put(self, key: str, data: bytes | IO[bytes], *, tag: str | None = None) -> None:
        _check_key(key)
        blob = uuid.uuid4().hex
        with write_session(self.engine) as s:
            size = 0
            for seq, block in enumerate(_chunks(data)):
                s.execute(insert(_chunks_t).values(blob=blob, seq=seq, data=block))
                size += len(block)
            if size == 0:  # an empty object still has its one (empty) chunk: open finds it
                s.execute(insert(_chunks_t).values(blob=blob, seq=0, data=b""))
            old = s.execute(select(_objects.c.blob).where(_objects.c.key == key).with_for_update()).scalar()
            values = {"blob": blob, "size": size, "modified_at": utcnow(), "tag": tag}
            if old is None:
                inserted = s.connection().execute(_insert_new(self.engine, key, values)).rowcount
                if not inserted:  # another writer made it meanwhile (and committed): replace theirs
                    old = s.execute(
                        select(_objects.c.blob).where(_objects.c.key == key).with_for_update()
                    ).scalar()
            if old is not None:
                s.execute(update(_objects).where(_objects.c.key == key).values(**values))
                s.execute(delete(_chunks_t).where(_chunks_t.c.blob == old))

    def open(self, key: str) -> StoredFile:
        _check_key(key)
        return _Rows(self.engine.connect(), key)

    def stat(self, key: str) -> Stat | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(_objects.c.size, _objects.c.modified_at, _objects.c.tag).where(_objects.c.key == key)
            ).first()
        return Stat(int(row.size), _epoch(row.modified_at), row.tag) if row else None

    def list(self, prefix: str) -> Iterator[tuple[str, Stat]]:
        q = select(_objects.c.key, _objects.c.size, _objects.c.modified_at, _objects.c.tag).order_by(
            _objects.c.key
        )
        if prefix:  # LIKE 'prefix%' with _ and % escaped; SQLite's LIKE ignores case: checked again below
            q = q.where(_objects.c.key.startswith(prefix, autoescape=True))
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        for row in rows:
            if row.key.startswith(prefix):
                yield row.key, Stat(int(row.size), _epoch(row.modified_at), row.tag)

    def delete(self, key: str) -> None:
        with write_session(self.engine) as s:
            old = s.execute(select(_objects.c.blob).where(_objects.c.key == key).with_for_update()).scalar()
            if old is not None:
                s.execute(delete(_objects).where(_objects.c.key == key))
                s.execute(delete(_chunks_t).where(_chunks_t.c.blob == old))

    def set_tags(self, tags: Mapping[str, str | None]) -> None:
        if not tags:
            return
        with write_session(self.engine) as s:
            for key, tag in sorted(
                tags.items()
            ):  # one order: two writers never wait on each other in a circle
                s.execute(update(_objects).where(_objects.c.key == key).values(tag=tag))

    def describe(self, prefix: str) -> str:
        return f"共享数据库（{prefix}）"


def _insert_new(engine: Engine, key: str, values: dict[str, Any]) -> Any:
    """INSERT … ON CONFLICT DO NOTHING: a concurrent first put of the same key
    waits for the other's commit, then inserts nothing (rowcount 0)."""
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(_objects).values(key=key, **values).on_conflict_do_nothing(index_elements=["key"])
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(_objects).values(key=key, **values).on_conflict_do_nothing(index_elements=["key"])


# -- an S3-compatible store ------------------------------------------------

TAG_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
_clients: dict[int, Any] = {}


class _Body(StoredFile):
    def __init__(self, response: dict[str, Any]) -> None:
        super().__init__()
        self._body = response["Body"]
        self.size = int(response["ContentLength"])
        self.modified = response["LastModified"].timestamp()

    def readinto(self, b: Any) -> int:
        view = memoryview(b).cast("B")
        data = self._body.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


@dataclass(frozen=True)
class S3Storage(Storage):
    """Objects in `bucket` under `prefix` (ends with / or is empty); the
    client is boto3's, configured from the environment."""

    bucket: str
    prefix: str = ""

    @property
    def client(self) -> Any:
        """One client per process (boto3's clients are thread-safe, not fork-safe)."""
        pid = os.getpid()
        if pid not in _clients:
            try:
                import boto3
            except ImportError:
                raise ConfigError(
                    "ECERT_STORAGE=s3://… 需要 boto3：pip install 'teacher-ecert[s3]'",
                    "S3 storage needs boto3 (the s3 extra)",
                ) from None
            _clients[pid] = boto3.client("s3")
        return _clients[pid]

    def _name(self, key: str) -> str:
        return self.prefix + _check_key(key)

    def _tags_of(self, key: str) -> str:
        return f"{self.prefix}.tags/{_check_key(key)}/"

    def put(self, key: str, data: bytes | IO[bytes], *, tag: str | None = None) -> None:
        if isinstance(data, bytes | bytearray | memoryview):
            self.client.put_object(Bucket=self.bucket, Key=self._name(key), Body=bytes(data))
        else:  # multipart for a large stream: the object appears when the upload completes
            self.client.upload_fileobj(data, self.bucket, self._name(key))
        if tag is not None:
            self.set_tags({key: tag})

    def open(self, key: str) -> StoredFile:
        try:
            return _Body(self.client.get_object(Bucket=self.bucket, Key=self._name(key)))
        except self.client.exceptions.NoSuchKey:
            raise FileNotFoundError(errno.ENOENT, "no such stored object", key) from None

    def stat(self, key: str) -> Stat | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._name(key))
        except self.client.exceptions.ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        tags = [k.rpartition("/")[2] for k in self._keys(self._tags_of(key))]
        return Stat(int(head["ContentLength"]), head["LastModified"].timestamp(), tags[-1] if tags else None)

    def list(self, prefix: str) -> Iterator[tuple[str, Stat]]:
        tags: dict[str, str] = {}
        for name in self._keys(f"{self.prefix}.tags/{prefix}"):
            key, _, tag = name.removeprefix(f"{self.prefix}.tags/").rpartition("/")
            tags[key] = tag
        for obj in self._objects(self.prefix + prefix):
            key = obj["Key"].removeprefix(self.prefix)
            if not key.startswith(".tags/"):
                yield key, Stat(int(obj["Size"]), obj["LastModified"].timestamp(), tags.get(key))

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._name(key))
        self.set_tags({key: None})

    def set_tags(self, tags: Mapping[str, str | None]) -> None:
        for key, tag in tags.items():
            if tag is not None and (not tag or not set(tag) <= TAG_CHARS):
                raise ValueError(f"a tag in S3 is A-Z a-z 0-9 . _ - only: {tag!r}")
            old = [k for k in self._keys(self._tags_of(key)) if k.rpartition("/")[2] != tag]
            if tag is not None:
                self.client.put_object(Bucket=self.bucket, Key=self._tags_of(key) + tag, Body=b"")
            for name in old:
                self.client.delete_object(Bucket=self.bucket, Key=name)

    def describe(self, prefix: str) -> str:
        return f"对象存储 s3://{self.bucket}/{self.prefix}{prefix}"

    def _objects(self, prefix: str) -> Iterator[dict[str, Any]]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        for page in pages:
            yield from page.get("Contents", [])

    def _keys(self, prefix: str) -> tuple[str, ...]:
        return tuple(o["Key"] for o in self._objects(prefix))

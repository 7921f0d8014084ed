"""issuer/storage.py: the folder and the database (SQLite and PostgreSQL)
keep the same promises: whole objects or none, streamed reads, listing by
prefix with each object's tag, and the setting that chooses one."""

from __future__ import annotations

import io
import shutil
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from issuer import storage as storelib
from issuer.config import load_settings
from issuer.db import make_engine
from issuer.errors import ConfigError
from issuer.storage import CHUNK, DatabaseStorage, FolderStorage, S3Storage, Storage

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 260  # some 66 KB, one chunk


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory) -> Iterator[str]:
    """moto's S3 server in server mode (a process on a port, spoken to over
    HTTP as MinIO or AWS would be); its endpoint."""
    pytest.importorskip("boto3")
    if not shutil.which("moto_server", path=str(Path(sys.executable).parent)):
        pytest.skip("moto[server] is not installed")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail(f"moto_server did not start: {log.read_text()}")
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def s3(s3_server, monkeypatch) -> str:
    """A bucket of this test's own on the S3 server; boto3's settings in the environment."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    storelib._clients.clear()  # a client made with another test's endpoint
    bucket = f"ecert-{uuid.uuid4().hex[:12]}"
    import boto3

    boto3.client("s3").create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture(params=["folder", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres), "s3"])
def store(request, tmp_path) -> Iterator[Storage]:
    if request.param == "folder":
        yield FolderStorage(tmp_path / "data")
        return
    if request.param == "s3":
        yield S3Storage(request.getfixturevalue("s3"), "ecert/")
        storelib._clients.clear()
        return
    engine = make_engine(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))
    yield DatabaseStorage(engine)
    engine.dispose()


def test_put_read_stat_list_delete(store):
    assert store.read("pdfs/a.pdf") is None and store.stat("pdfs/a.pdf") is None
    with pytest.raises(FileNotFoundError):
        store.open("pdfs/a.pdf")
    store.put("pdfs/a.pdf", PDF)
    store.put("pdfs/b.pdf", io.BytesIO(b"B"), tag="key-b")
    store.put("pdf-cache/a-123.pdf", b"")
    assert store.read("pdfs/a.pdf") == PDF and store.read("pdf-cache/a-123.pdf") == b""
    st = store.stat("pdfs/a.pdf")
    assert st.size == len(PDF) and st.modified > 0 and st.tag is None
    assert store.exists("pdfs/b.pdf") and store.stat("pdfs/b.pdf").tag == "key-b"
    listed = dict(store.list("pdfs/"))
    assert sorted(listed) == ["pdfs/a.pdf", "pdfs/b.pdf"] and listed["pdfs/b.pdf"].size == 1
    assert [k for k, _ in store.list("pdf")] == ["pdf-cache/a-123.pdf", "pdfs/a.pdf", "pdfs/b.pdf"]
    assert list(store.list("PDFS/")) == []  # exact, whatever the database's LIKE thinks of case
    with store.open("pdfs/a.pdf") as f:
        assert (f.size, f.read(10), f.read()) == (len(PDF), PDF[:10], PDF[10:])
    store.delete("pdfs/a.pdf")
    store.delete("pdfs/a.pdf")  # gone already: nothing to do
    assert store.read("pdfs/a.pdf") is None and [k for k, _ in store.list("pdfs/")] == ["pdfs/b.pdf"]
    for bad in ("/etc/passwd", "../x", "pdfs/../../x", "pdfs/", ""):
        with pytest.raises(ValueError):
            store.put(bad, b"x")


def test_tags_are_set_and_removed_together_and_only_on_what_is_named(store):
    for n in "abc":
        store.put(f"pdfs/{n}.pdf", n.encode())
    store.set_tags({"pdfs/a.pdf": "ka", "pdfs/b.pdf": "kb"})
    store.set_tags({"pdfs/b.pdf": None, "pdfs/c.pdf": "kc"})  # another writer's: a's stays
    assert {k: s.tag for k, s in store.list("pdfs/")} == {
        "pdfs/a.pdf": "ka",
        "pdfs/b.pdf": None,
        "pdfs/c.pdf": "kc",
    }
    store.put("pdfs/d.pdf", b"d", tag="kd")
    assert store.stat("pdfs/d.pdf").tag == "kd"


def test_a_large_object_streams_in_chunks_and_memory_stays_flat(store):
    size = 40 * CHUNK + 123  # some 10 MB
    block = bytes(range(256)) * (CHUNK // 256)

    class Source(io.RawIOBase):
        """size bytes, made as they are read."""

        def __init__(self) -> None:
            self.left = size

        def readable(self) -> bool:
            return True

        def readinto(self, b) -> int:
            n = min(len(b), self.left, len(block))
            b[:n] = block[:n]
            self.left -= n
            return n

    store.put("jobs/big.zip", io.BufferedReader(Source()))
    tracemalloc.start()
    try:
        total = 0
        with store.open("jobs/big.zip") as f:
            assert f.size == size
            while data := f.read(1 << 16):
                total += len(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == size
    assert peak < 4 * 2**20, peak  # a few chunks, not 10 MB


def test_a_reader_sees_the_old_object_or_the_new_never_half(store):
    """Writers replace an object over and over while readers read it: each
    read is one whole version."""
    versions = [bytes([v]) * (2 * CHUNK + 1000 * v) for v in range(1, 6)]
    store.put("pdfs/x.pdf", versions[0])
    seen, stop, errors = set(), threading.Event(), []

    def write():
        try:
            for _ in range(4):
                for v in versions:
                    store.put("pdfs/x.pdf", v)
        except Exception as e:  # pragma: no cover  (reported below)
            errors.append(e)
        finally:
            stop.set()

    t = threading.Thread(target=write)
    t.start()
    while not stop.is_set() or not seen:
        with store.open("pdfs/x.pdf") as f:
            data = f.read()
        assert data in versions, (len(data), data[:1])
        assert f.size == len(data)
        seen.add(data[:1])
    t.join()
    assert not errors, errors
    assert store.read("pdfs/x.pdf") == versions[-1]


def test_the_folder_keeps_its_tags_in_the_manifest_ecert_render_always_wrote(tmp_path):
    """A folder rendered before this module stays valid: its manifest is the tags."""
    out = tmp_path / "pdfs"
    out.mkdir()
    (out / "6540040710000014.pdf").write_bytes(PDF)
    (out / storelib.TAGS).write_text('{"6540040710000014": "k1", "6540040710000022": "k2"}')
    (out / ".6540040710000030.pdf.42.tmp").write_bytes(b"half")
    store = FolderStorage(tmp_path)
    assert [(k, s.tag) for k, s in store.list("pdfs/")] == [("pdfs/6540040710000014.pdf", "k1")]
    assert store.clean("pdfs/") == 1 and not list(out.glob(".*.tmp"))
    store.put("pdfs/6540040710000022.pdf", PDF, tag="k3")
    assert (out / "6540040710000022.pdf").stat().st_mode & 0o777 == 0o600
    assert '"6540040710000022": "k3"' in (out / storelib.TAGS).read_text()


def test_the_setting_chooses_the_store(monkeypatch, tmp_path, sqlite_url):
    engine = make_engine(sqlite_url)
    monkeypatch.setenv("ECERT_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.delenv("ECERT_STORAGE", raising=False)
    settings = load_settings()
    assert settings.storage == "folder"
    assert storelib.storage_for(settings, engine) == FolderStorage(tmp_path / "d")
    monkeypatch.setenv("ECERT_STORAGE", " Database ")
    settings = load_settings()
    assert settings.storage == "database" and storelib.storage_for(settings, engine) == DatabaseStorage(
        engine
    )
    monkeypatch.setenv("ECERT_STORAGE", "S3://ecert-pdfs/Horgos/")
    settings = load_settings()
    assert storelib.storage_for(settings, engine) == S3Storage("ecert-pdfs", "Horgos/")
    for bad in ("nfs", "s3://", "s3:///prefix"):
        monkeypatch.setenv("ECERT_STORAGE", bad)
        with pytest.raises(ConfigError, match="只能是 folder、database 或 s3://"):
            load_settings()
    engine.dispose()


def test_s3_keeps_each_objects_tag_beside_it_and_lists_both_at_once(s3):
    store = S3Storage(s3, "p/")
    store.put("pdfs/a.pdf", PDF, tag="k1")
    store.set_tags({"pdfs/a.pdf": "k2"})
    import boto3

    names = sorted(o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=s3)["Contents"])
    assert names == ["p/.tags/pdfs/a.pdf/k2", "p/pdfs/a.pdf"]  # the old tag gone
    assert [(k, st.tag) for k, st in store.list("pdfs/")] == [("pdfs/a.pdf", "k2")]
    with pytest.raises(ValueError):
        store.set_tags({"pdfs/a.pdf": "a/b"})

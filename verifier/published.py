"""The verifier on what the bureau publishes alone: its keys (the JWKS) and
its signed status snapshot (verifier/status.py), read from files or http(s)
URLs, with no database (`ECERT_STATUS=snapshot`). Any number of verifiers,
or a CDN holding the two files, can then stand behind a load balancer.

At start both are read and the snapshot's signature checked against the
keys; anything wrong stops the start. Then a thread of each process checks
them every `refresh` seconds, cheaply (a file's mtime and size, a URL's
ETag or Last-Modified), and only when one changed reads and checks them
again, together. What verifies replaces what is held in one assignment of
an immutable `Held` (keys and snapshot as a pair): a request reads the
pair it found and never waits for a refresh. A refresh that does not
verify, a snapshot of another bureau, or one older than the one held
(`generated_at` going backwards: a replayed file could hide a revocation)
is refused and logged, and the last good pair stays.

So a change in the register shows here within: the bureau's export
interval (how often `ecert status export` is run and published), plus
`refresh`, plus whatever a CDN or proxy caches the file for.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from verifier.clock import CHINA
from verifier.keyset import MAX_JWKS_BYTES, KeySet, KeySetError
from verifier.status import MAX_SNAPSHOT_BYTES, SnapshotError, SnapshotStatus

log = logging.getLogger("ecert.verifier")
FETCH_TIMEOUT = 20.0  # seconds for one URL
SNAPSHOT_SETTING, JWKS_SETTING = "ECERT_STATUS_SNAPSHOT", "ECERT_JWKS"


class PublishedError(ValueError):
    """A published file that cannot be read, or keys and snapshot that do
    not verify together: the message says which and why (English), `setting`
    the variable that names the file."""

    def __init__(self, message: str, setting: str) -> None:
        super().__init__(message)
        self.setting = setting


@dataclass(frozen=True)
class Fetched:
    stamp: str  # what says it changed: a file's mtime and size, a URL's ETag or Last-Modified
    data: bytes


class Published:
    """One published file, at a path or an http(s) URL."""

    def __init__(
        self, location: str, what: str, max_bytes: int, setting: str, timeout: float = FETCH_TIMEOUT
    ) -> None:
        self.location, self.what, self.max_bytes, self.timeout = location, what, max_bytes, timeout
        self.setting = setting
        self.is_url = location.lower().startswith(("http://", "https://"))

    def fetch(self, stamp: str | None = None) -> Fetched | None:
        """The file, or None when it has not changed since `stamp`."""
        return self._url(stamp) if self.is_url else self._file(stamp)

    def _file(self, stamp: str | None) -> Fetched | None:
        path = Path(self.location)
        try:
            st = path.stat()
            now = f"{st.st_mtime_ns}:{st.st_size}:{st.st_ino}"
            if now == stamp:
                return None
            with path.open("rb") as f:
                data = f.read(self.max_bytes + 1)
        except OSError as e:
            raise PublishedError(
                f"{self.location}: cannot read the {self.what} ({e.strerror})", self.setting
            ) from None
        return Fetched(now, self._bounded(data))

    def _url(self, stamp: str | None) -> Fetched | None:
        headers = {"Accept": "application/json", "User-Agent": "teacher-ecert-verifier"}
        etag, modified = _conditions(stamp)
        if etag:
            headers["If-None-Match"] = etag
        if modified:
            headers["If-Modified-Since"] = modified
        request = urllib.request.Request(self.location, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as r:
                data = r.read(self.max_bytes + 1)
                etag, modified = r.headers.get("ETag"), r.headers.get("Last-Modified")
        except urllib.error.HTTPError as e:
            if e.code == 304:
                return None
            raise PublishedError(
                f"{self.location}: the {self.what} could not be fetched (HTTP {e.code})", self.setting
            ) from None
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise PublishedError(
                f"{self.location}: the {self.what} could not be fetched ({e})", self.setting
            ) from None
        data = self._bounded(data)
        # without validators, the body's digest says whether it changed (it was read anyway)
        now = json.dumps([etag, modified, None if etag or modified else hashlib.sha256(data).hexdigest()])
        return None if now == stamp else Fetched(now, data)

    def _bounded(self, data: bytes) -> bytes:
        if len(data) > self.max_bytes:
            raise PublishedError(
                f"{self.location}: too large for a {self.what} (over {self.max_bytes} bytes)", self.setting
            )
        return data


def _conditions(stamp: str | None) -> tuple[str | None, str | None]:
    if not stamp or not stamp.startswith("["):
        return None, None
    etag, modified, _ = json.loads(stamp)
    return etag, modified


@dataclass(frozen=True)
class Held:
    """Keys and the snapshot they verified, as one unchangeable pair."""

    keys: KeySet
    status: SnapshotStatus


def verified(jwks: bytes, snapshot: bytes, note: str = "") -> Held:
    """The pair, if the snapshot is signed by one of the keys as
    verifier/status.py requires; else PublishedError saying why."""
    try:
        keys = KeySet.from_jwks(_json(jwks, "JWKS", JWKS_SETTING))
    except KeySetError as e:
        raise PublishedError(f"the JWKS cannot be used: {e}", JWKS_SETTING) from None
    try:
        status = SnapshotStatus.from_document(_json(snapshot, "status snapshot", SNAPSHOT_SETTING), keys)
    except SnapshotError as e:
        raise PublishedError(f"the status snapshot cannot be used: {e}", SNAPSHOT_SETTING) from None
    if note:
        status.note = note.format(status.generated_at.astimezone(CHINA))
    return Held(keys, status)


def _json(data: bytes, what: str, setting: str) -> object:
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        raise PublishedError(f"the {what} is not JSON", setting) from None


# What a page says beside the verdict: where the status came from, and from when.
NOTE = "登记状态依据 {:%Y-%m-%d %H:%M}（北京时间）生成的状态快照，其后的变更不在其中"


class LiveSnapshot:
    """The held keys and snapshot, refreshed every `refresh` seconds by a
    thread of this process (started with the first request a process
    serves, so each gunicorn worker has its own after the fork)."""

    def __init__(self, snapshot: Published, jwks: Published, refresh: float) -> None:
        self.snapshot, self.jwks, self.refresh = snapshot, jwks, refresh
        self._lock = threading.Lock()  # one check at a time
        self._starting = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0
        keys, snap = jwks.fetch(), snapshot.fetch()
        assert keys is not None and snap is not None  # (no stamp: always read)
        self._held = verified(keys.data, snap.data, NOTE)
        self._latest = {"jwks": keys, "snapshot": snap}  # the newest of each seen, good or not

    @property
    def held(self) -> Held:
        """The pair to answer from (a request takes it once and keeps it)."""
        if self._pid != os.getpid() and not self._stop.is_set():
            self._start()
        return self._held

    @property
    def generated_at(self) -> str:
        return self._held.status.generated_at.isoformat()

    def _start(self) -> None:
        with self._starting:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="ecert-status-refresh", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.refresh):
            try:
                self.check()
            except Exception:  # a thread that dies would hold the snapshot for ever
                log.exception("status snapshot refresh failed; keeping the snapshot of %s", self.generated_at)

    def check(self) -> str:
        """Read the keys and the snapshot again if either changed, and take
        them if they verify together and the snapshot is not older than the
        one held. Says what happened: "unchanged", "updated" or "kept: why"."""
        with self._lock:
            changed = False
            for name, source in (("jwks", self.jwks), ("snapshot", self.snapshot)):
                try:
                    got = source.fetch(self._latest[name].stamp)
                except PublishedError as e:
                    return self._kept(str(e))
                if got is not None:
                    self._latest[name], changed = got, True
            if not changed:
                return "unchanged"
            try:
                new = verified(self._latest["jwks"].data, self._latest["snapshot"].data, NOTE)
            except PublishedError as e:
                return self._kept(str(e))
            old = self._held.status
            if new.status.issuer != old.issuer:
                return self._kept(f"a snapshot of bureau {new.status.issuer}, not {old.issuer}")
            if new.status.generated_at < old.generated_at:
                return self._kept(
                    f"the snapshot of {new.status.generated_at.isoformat()} is older than the one held: "
                    "a snapshot never goes back in time"
                )
            self._held = new
            log.info("status snapshot of %s taken", new.status.generated_at.isoformat())
            return "updated"

    def _kept(self, why: str) -> str:
        log.error("status snapshot refresh refused, keeping the snapshot of %s: %s", self.generated_at, why)
        return f"kept: {why}"

    def close(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            with contextlib.suppress(RuntimeError):
                thread.join(timeout=5)


def live_snapshot(snapshot: str, jwks: str, refresh: float) -> LiveSnapshot:
    """The keys and snapshot at these places (path or URL), verified, or
    PublishedError."""
    return LiveSnapshot(
        Published(snapshot, "status snapshot", MAX_SNAPSHOT_BYTES, SNAPSHOT_SETTING),
        Published(jwks, "JWKS", MAX_JWKS_BYTES, JWKS_SETTING),
        refresh,
    )

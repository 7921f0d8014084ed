"""`ecert serve` as the README's first command runs it: the background
jobs' worker keeps the signing key's passphrase, the web server never has
it, and a reissue started from the office pages is signed by the worker.
A real server on a real port, spoken to over HTTP."""

from __future__ import annotations

import csv
import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import NEW_PASSWORD, PASSPHRASE

WAIT = 60


@pytest.fixture
def db_url(sqlite_url):
    """SQLite, as the README's first command runs it."""
    return sqlite_url


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")


class Browser:
    """Cookies and the CSRF token, over real HTTP."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect
        )

    def get(self, path: str) -> tuple[int, str, str]:
        return self._open(urllib.request.Request(self.base + path))

    def post(self, path: str, data: dict, form_at: str | None = None) -> tuple[int, str, str]:
        token = re.search(r'name="csrf_token" value="([^"]+)"', self.get(form_at or path)[1]).group(1)
        body = urllib.parse.urlencode({**data, "csrf_token": token}).encode()
        return self._open(urllib.request.Request(self.base + path, data=body))

    def _open(self, req) -> tuple[int, str, str]:
        try:
            with self.opener.open(req, timeout=30) as r:
                return r.status, r.read().decode(), r.headers.get("Location", "")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace"), e.headers.get("Location", "")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _wait(what: str, probe, log: Path):
    t0 = time.monotonic()
    while time.monotonic() - t0 < WAIT:
        try:
            value = probe()
            if value:
                return value
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.3)
    pytest.fail(f"{what} did not happen in {WAIT} s\n{log.read_text(errors='replace')[-4000:]}")


@pytest.mark.slow
def test_the_web_server_never_holds_the_passphrase_and_its_worker_signs_a_reissue(
    region, issued, numbers, tmp_path, monkeypatch
):
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    port, log = _free_port(), tmp_path / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "issuer.cli",
                "serve",
                "--port",
                str(port),
                "--workers",
                "1",
                "--render-pdfs",
            ],
            env=dict(os.environ),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(
            "the service answering", lambda: urllib.request.urlopen(base + "/", timeout=2).status == 200, log
        )
        assert f"{base}/verify/batch" in log.read_text(errors="replace")  # where to try the batch page
        # serve became the web server (the same process), without the passphrase
        assert PASSPHRASE not in _environ(proc.pid).values() and "ECERT_KEY_PASSPHRASE" not in _environ(
            proc.pid
        )
        children = {pid: _cmdline(pid) for pid in _children(proc.pid)}
        workers = [pid for pid, cmd in children.items() if "issuer.cli worker" in cmd]
        web = [pid for pid in children if pid not in workers]
        assert len(workers) == 1 and web, children
        assert _environ(workers[0]).get("ECERT_KEY_PASSPHRASE") == PASSPHRASE  # the worker signs
        assert all("ECERT_KEY_PASSPHRASE" not in _environ(pid) for pid in web)

        number = numbers[region.a[0]]
        b = Browser(base)
        status, _, where = b.post(
            "/office/login", {"username": "auditor", "password": region.codes["auditor"]}
        )
        assert status == 302 and where.endswith("/office/password"), status
        status, _, _ = b.post(
            "/office/password", {"old": region.codes["auditor"], "new": NEW_PASSWORD, "again": NEW_PASSWORD}
        )
        assert status == 302
        # the first run's PDFs: a background job serve started, on its worker
        render_job = re.search(r"/office/jobs/(\d+)", log.read_text(errors="replace")).group(1)
        rendered = _wait(
            "the background render job",
            lambda: (j := json.loads(b.get(f"/office/jobs/{render_job}.json")[1]))["state"] == "done" and j,
            log,
        )
        assert rendered["kind"] == "render" and rendered["counts"]["rendered"] == len(numbers), rendered
        status, _, job_page = b.post(
            f"/office/teachers/{number}/revoke", {"reason": "测试"}, form_at=f"/office/teachers/{number}"
        )
        status, _, job_page = b.post(
            f"/office/teachers/{number}/reissue", {}, form_at=f"/office/teachers/{number}"
        )
        assert status == 302 and "/office/jobs/" in job_page, (status, job_page)
        path = urllib.parse.urlsplit(job_page).path
        info = _wait(
            "the reissue job",
            lambda: (j := json.loads(b.get(path + ".json")[1]))["state"] in ("done", "failed") and j,
            log,
        )
        assert info["state"] == "done" and info["counts"]["reissued"] == 1, info
        cert = json.loads(region.run("show", number, "--json").stdout)
        assert (cert["version"], cert["status"]) == (2, "current")
        # the teacher's PDF: the web process, holding no key, has the worker render and sign it
        codes_file = tmp_path / "codes.csv"
        region.run("passwords", "issue", "-o", str(codes_file))
        with codes_file.open(encoding="utf-8-sig") as f:
            code = next(r["一次性登录码"] for r in csv.DictReader(f) if r["证书编号"] == number)
        t = Browser(base)
        assert t.post("/teacher/login", {"account": number, "password": code})[0] == 302
        assert (
            t.post("/teacher/password", {"old": code, "new": NEW_PASSWORD, "again": NEW_PASSWORD})[0] == 302
        )
        with t.opener.open(base + "/teacher/certificate.pdf", timeout=30) as r:
            pdf = r.read()
        assert pdf.startswith(b"%PDF") and b"/ETSI.CAdES.detached" in pdf
        # a 查验码 asked for never reaches the access log (its query string is left out)
        b.get(f"/verify?no={number}&code={cert['check_code']}")
        _wait("the lookup's access log line", lambda: "GET /verify " in log.read_text(errors="replace"), log)
        assert cert["check_code"] not in log.read_text(errors="replace")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    # the worker went with the service (it is told to when its parent goes)
    _wait(
        "the worker stopping",
        lambda: (
            not [p for p in workers if Path(f"/proc/{p}").exists() and "issuer.cli worker" in _cmdline(p)]
        ),
        log,
    )


def test_a_worker_keeps_its_environment_from_other_processes_of_its_user():
    # not dumpable: /proc/<pid>/environ, where the passphrase is, is root's alone
    code = (
        "import ctypes; from issuer.office.tasks import keep_environment_private; libc = ctypes.CDLL('libc.so.6'); "
        "before = libc.prctl(3, 0, 0, 0, 0); keep_environment_private(); print(before, libc.prctl(3, 0, 0, 0, 0))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True)
    assert out.stdout.split() == ["1", "0"], out.stdout  # PR_GET_DUMPABLE, before and after

"""How gunicorn serves the verifier (verifier/web/serving.py): the config
module as gunicorn reads it, the same settings for `ecert serve`, and a
real gunicorn whose worker has frozen its start-up heap before its first
request."""

from __future__ import annotations

import gc
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from gunicorn.app.base import Application
from gunicorn.config import Config

from verifier.web import serving


class ConfigOnly(Application):
    """gunicorn's own loading of `-c python:MODULE`, without argv or an app."""

    def __init__(self, location: str) -> None:
        self.location = location
        super().__init__()

    def load_config(self) -> None:
        self.load_config_from_module_name_or_filename(self.location)

    def load(self) -> None:  # never served
        raise AssertionError


def test_gunicorn_reads_the_module_as_a_config_file():
    cfg = ConfigOnly("python:verifier.web.serving").cfg
    assert cfg.worker_class_str == "sync"
    assert cfg.post_worker_init is serving.post_worker_init
    assert cfg.when_ready is serving.when_ready
    assert cfg.worker_tmp_dir == ("/dev/shm" if os.path.isdir("/dev/shm") else None)


def test_settings_are_the_modules_and_gunicorn_takes_each():
    cfg = Config()
    for name, value in serving.settings().items():
        cfg.set(name, value)  # validates each (a hook must be a callable of one argument)
    assert cfg.worker_class_str == serving.worker_class
    assert cfg.post_worker_init is serving.post_worker_init
    assert cfg.when_ready is serving.when_ready
    assert cfg.worker_tmp_dir == serving.worker_tmp_dir


def test_the_heartbeat_file_is_in_memory_when_there_is_memory(monkeypatch):
    if not os.path.isdir(serving.SHM):
        pytest.skip("no /dev/shm here")
    assert serving.worker_tmp_dir == serving.SHM
    assert serving.settings()["worker_tmp_dir"] == serving.SHM


def test_the_hooks_freeze_the_heap():
    try:
        gc.unfreeze()
        serving.post_worker_init(None)
        frozen = gc.get_freeze_count()
        assert frozen > 1000  # this process's modules and objects, at least
        serving.when_ready(None)
        assert gc.get_freeze_count() >= frozen
    finally:
        gc.unfreeze()  # the test process collects as before


APP = """
import gc


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(gc.get_freeze_count()).encode()]
"""


def test_a_gunicorn_worker_serves_with_its_heap_frozen(tmp_path: Path):
    (tmp_path / "frozen_app.py").write_text(APP)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gunicorn = Path(sys.executable).with_name("gunicorn")
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(gunicorn), "-c", "python:verifier.web.serving", "--workers", "1"]
            + ["--bind", f"127.0.0.1:{port}", "--chdir", str(tmp_path), "frozen_app:app"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline, body = time.monotonic() + 30, None
        while body is None and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                    body = r.read()
            except OSError:
                time.sleep(0.1)
        assert body is not None, "gunicorn did not answer"
        assert int(body) > 1000  # frozen before the first request
    finally:
        proc.terminate()
        proc.wait(timeout=30)

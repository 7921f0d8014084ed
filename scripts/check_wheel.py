"""The wheel works on its own: build it, install it in a clean venv, issue one
certificate with the installed `ecert`, and serve the verifier alone from the
installed package (gunicorn, `verifier.web:create_app()`), then ask it for
that certificate's /V/<token> page. Run by .ci/run (`./run.sh wheel`).

Everything runs outside the checkout (a temporary folder as the working
directory, no PYTHONPATH), so a file the wheel leaves out fails here rather
than being found in the source tree.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What an installed teacher-ecert must hold besides Python modules.
MUST_SHIP = [
    "ecert_templates/certificate.html",
    "ecert_templates/certificate.css",
    "ecert_templates/verifier/result.html",
    "ecert_templates/office/home.html",
    "ecert_templates/static/ecert.css",
    "verifier/profiles/horgos-7.toml",
    "verifier/py.typed",
    "issuer/py.typed",
    "issuer/pdf/data/tongyong-guifan-8105.txt",
    "issuer/migrations/env.py",
    "issuer/migrations/script.py.mako",
]


class WheelCheckFailed(SystemExit):
    def __init__(self, what: str) -> None:
        super().__init__(f"wheel check FAILED: {what}")


def say(text: str) -> None:
    print(f"  wheel: {text}", flush=True)


def run(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    out = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env, cwd=cwd)
    if out.returncode != 0:
        raise WheelCheckFailed(f"{' '.join(map(str, args))}\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
    return out.stdout


def build(out: Path) -> Path:
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", out, ROOT)
    wheel = next(out.glob("teacher_ecert-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [m for m in MUST_SHIP if m not in names]
    if missing:
        raise WheelCheckFailed(f"{wheel.name} leaves out {missing}")
    say(f"built {wheel.name}: {len(names)} files, templates, profiles and font list included")
    return wheel


def install(wheel: Path, venv: Path) -> Path:
    run(sys.executable, "-m", "venv", venv)
    py = venv / "bin" / "python"
    run(py, "-m", "pip", "install", "-q", "--disable-pip-version-check", wheel)
    where = run(py, "-c", "import verifier, ecert_templates; print(verifier.__file__)", cwd=venv).strip()
    if not where.startswith(str(venv)):
        raise WheelCheckFailed(f"verifier imported from {where}, not from the clean venv")
    say("installed in a clean venv")
    return venv / "bin"


def issue_one(bin_: Path, work: Path) -> tuple[dict[str, str], str]:
    env = {
        "PATH": f"{bin_}:/usr/bin:/bin",
        "HOME": str(work),
        "ECERT_DATA_DIR": str(work / "data"),
        "ECERT_KEYS_DIR": str(work / "keys"),
        "ECERT_KEY_PASSPHRASE": "wheel-check-passphrase",
        "LANG": "C.UTF-8",
    }
    ecert = bin_ / "ecert"
    run(ecert, "init", env=env, cwd=work)
    run(ecert, "projects", "import", ROOT / "sample" / "projects.csv", env=env, cwd=work)
    run(ecert, "roster", "import", ROOT / "sample" / "roster.csv", "--cycle", "7", env=env, cwd=work)
    run(ecert, "records", "import", ROOT / "sample" / "records.csv", env=env, cwd=work)
    run(ecert, "keys", "init", env=env, cwd=work)
    teacher = (ROOT / "sample" / "roster.csv").read_text(encoding="utf-8-sig").splitlines()[1].split(",")
    id_number = next(v for v in teacher if len(v) == 18)
    run(ecert, "issue", "--cycle", "7", "--teacher", id_number, env=env, cwd=work)
    number = json.loads(run(ecert, "credits", id_number, "--json", env=env, cwd=work))["certificate_number"]
    token = json.loads(run(ecert, "show", number, "--json", env=env, cwd=work))["token"]
    say(f"issued {number} with the installed ecert")
    return env, token


def serve_and_ask(bin_: Path, env: dict[str, str], work: Path, token: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**env, "ECERT_VERIFIER_DATABASE_URL": f"sqlite:///{work / 'data' / 'ecert.sqlite3'}"}
    del env["ECERT_KEY_PASSPHRASE"]  # the verifier holds public keys only
    server = subprocess.Popen(
        [bin_ / "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1", "verifier.web:create_app()"],
        env=env,
        cwd=work,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        body = _get(f"http://127.0.0.1:{port}/V/{token}", server)
    finally:
        server.terminate()
        log = server.communicate(timeout=20)[0].decode(errors="replace")
    if "证书真实有效" not in body:
        raise WheelCheckFailed(
            f"/V/<token> did not say the certificate is valid:\n{body[:2000]}\n{log[-2000:]}"
        )
    say("the verifier, served alone from the wheel, answers /V/<token>: 证书真实有效")


def _get(url: str, server: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return str(r.read().decode("utf-8"))
        except OSError as e:
            if server.poll() is not None or time.monotonic() > deadline:
                raise WheelCheckFailed(f"the verifier did not answer {url}: {e}") from None
            time.sleep(0.3)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="ecert-wheel-") as tmp:
        work = Path(tmp)
        wheel = build(work / "dist")
        bin_ = install(wheel, work / "venv")
        env, token = issue_one(bin_, work)
        serve_and_ask(bin_, env, work, token)
    print("wheel check passed")


if __name__ == "__main__":
    os.umask(0o077)
    main()

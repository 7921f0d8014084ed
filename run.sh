#!/usr/bin/env bash
# teacher-ecert: one script for set-up, the main job and the tests.
#   ./run.sh          install what is missing, then run the main job on the sample data
#   ./run.sh test     install what is missing, then run the whole test suite
#   ./run.sh check    lint, format and type checks (ruff, mypy), as .ci/run runs them
#   ./run.sh wheel    build the wheel, install it in a clean venv, serve the verifier from it
# Anything after `test` goes to pytest (e.g. ./run.sh test -k credits).
set -euo pipefail
cd "$(dirname "$0")"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# Debian packages the project needs on a fresh machine: the certificate's
# CJK font; HarfBuzz's subsetter, without which WeasyPrint embeds fonts
# through fontTools at ~7 s a PDF; Pango, which WeasyPrint lays text out
# with; poppler-utils, whose pdftoppm the tests rasterise PDFs with;
# chromium, the real browser of the end-to-end tests (driven by Playwright).
SYSTEM_PACKAGES=(fonts-noto-cjk libharfbuzz-subset0 libpango-1.0-0 libpangoft2-1.0-0 poppler-utils chromium)

install_system_packages() {
  local missing=()
  for pkg in "${SYSTEM_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]} (log: .apt-install.log)"
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  # apt's progress goes to a log; shown only if it fails
  if ! { $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } \
      > .apt-install.log 2>&1; then
    tail -n 30 .apt-install.log >&2; echo "apt-get failed: see .apt-install.log" >&2; exit 1
  fi
  rm -f .apt-install.log
}

install_python_env() {
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "Python 3.11 or newer is needed; found $(python3 --version 2>&1)" >&2; exit 1; }
  [ -x .venv/bin/python ] || { say "creating .venv"; python3 -m venv .venv; }
  # Reinstall only when the dependencies changed.
  local stamp=.venv/.ecert-deps
  local want; want=$(cat pyproject.toml setup.py | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing Python dependencies (a few minutes the first time; log: .venv/pip-install.log)"
    # pip's progress and setuptools' packaging notes go to the log; shown only if it fails
    if ! { .venv/bin/python -m pip install -q --upgrade pip && .venv/bin/python -m pip install -q -e ".[test]"; } \
        > .venv/pip-install.log 2>&1; then
      tail -n 30 .venv/pip-install.log >&2; echo "pip install failed: see .venv/pip-install.log" >&2; exit 1
    fi
    say "$(.venv/bin/python -m pip list --format=freeze 2>/dev/null | wc -l) Python packages installed"
    echo "$want" > "$stamp"
  fi
}

main_job() {
  export ECERT_DATA_DIR="${ECERT_DATA_DIR:-$PWD/data}"
  local ecert=.venv/bin/ecert
  say "database (${DATABASE_URL:-SQLite in $ECERT_DATA_DIR})"
  $ecert init
  say "importing the sample data (sample/)"
  $ecert projects import sample/projects.csv
  $ecert roster import sample/roster.csv --cycle 7
  $ecert records import sample/records.csv
  say "credit sheets, by school"
  $ecert summary --cycle 7
  local first; first=$(.venv/bin/python - <<'PY'
import csv
with open("sample/roster.csv", encoding="utf-8-sig") as f:
    print(next(csv.DictReader(f))["身份证号"])
PY
)
  say "one teacher's credit sheet: ecert credits $first"
  $ecert credits "$first"
  local first_number; first_number=$($ecert credits "$first" --json | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["certificate_number"])')
  demo_passphrase
  say "signing key (ECERT_KEYS_DIR=${ECERT_KEYS_DIR:-keys})"
  $ecert keys init
  say "issuing the certificates of cycle 7"
  $ecert issue --cycle 7
  local url; url=$($ecert show "$first_number" --json | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["url"])')
  say "verifying one: ecert verify URL"
  $ecert verify "$url"
  local school; school=$(.venv/bin/python - <<'PY'
import csv
with open("sample/roster.csv", encoding="utf-8-sig") as f:
    print(next(csv.DictReader(f))["学校代码"])
PY
)
  say "one-time sign-in codes for the teachers of school $school (data/codes-$school.csv)"
  # Made once: a second run keeps the codes (and any password a teacher chose).
  [ -s "$ECERT_DATA_DIR/codes-$school.csv" ] || \
    $ecert passwords issue --cycle 7 --school "$school" -o "$ECERT_DATA_DIR/codes-$school.csv"
  local code; code=$(.venv/bin/python -c 'import csv,sys; r=list(csv.reader(open(sys.argv[1], encoding="utf-8-sig"))); print(r[1][0], r[1][3]) if len(r) > 1 else print("")' "$ECERT_DATA_DIR/codes-$school.csv")
  [ -n "$code" ] && say "a sample teacher can sign in with: ${code% *} / ${code#* } (then choose a password)"
  demo_staff "$school"
  if [ "${ECERT_NO_SERVE:-}" = 1 ]; then
    say "rendering every certificate to PDF ($ECERT_DATA_DIR/pdfs)"
    $ecert render --cycle 7 --out "$ECERT_DATA_DIR/pdfs" --workers "$(nproc)"
    return 0
  fi
  # Serving starts now; the PDFs render as a background job on the service's
  # worker (into $ECERT_DATA_DIR/pdfs, progress on the office's jobs page).
  say "starting the service (Ctrl-C stops it); the PDFs render in the background"
  exec $ecert serve --host 127.0.0.1 --port "${ECERT_PORT:-5000}" --render-pdfs
}

# Sample staff accounts for the office (工作台), made once; their one-time
# codes stay in data/staff-codes.txt, readable by you alone.
demo_staff() {
  local file="$ECERT_DATA_DIR/staff-codes.txt" ecert=.venv/bin/ecert
  if [ ! -s "$file" ]; then
    say "staff accounts for the office ($file)"
    (umask 077
     { $ecert staff add demo-admin --role admin --name 演示管理员 --exist-ok
       $ecert staff add demo-auditor --role auditor --name 演示审核员 --exist-ok
       $ecert staff add demo-registrar --role registrar --school "$1" --name 演示专管员 --exist-ok
     } > "$file")
  fi
  say "office sign-in (http://127.0.0.1:${ECERT_PORT:-5000}/office/login), one-time codes:"
  cat "$file"
}

# A real bureau sets ECERT_KEY_PASSPHRASE itself. For the sample run, one is
# made once and kept beside the database (data/ is not in git), so that a
# second run opens the same key.
demo_passphrase() {
  [ -n "${ECERT_KEY_PASSPHRASE:-}" ] && return 0
  local file="$ECERT_DATA_DIR/demo-key-passphrase"
  if [ ! -s "$file" ]; then
    (umask 077; .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(24))' > "$file")
  fi
  ECERT_KEY_PASSPHRASE=$(cat "$file"); export ECERT_KEY_PASSPHRASE
  say "ECERT_KEY_PASSPHRASE not set: using the sample passphrase in $file"
}

install_system_packages
install_python_env
case "${1:-}" in
  test) shift; exec .venv/bin/python -m pytest "$@" ;;
  check) say "ruff check"; .venv/bin/ruff check .
         say "ruff format --check"; .venv/bin/ruff format --check .
         say "mypy (strict)"; exec .venv/bin/mypy ;;
  wheel) exec .venv/bin/python scripts/check_wheel.py ;;
  "") main_job ;;
  *) echo "usage: ./run.sh [test [pytest args] | check | wheel]" >&2; exit 2 ;;
esac

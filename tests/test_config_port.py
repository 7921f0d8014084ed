"""ECERT_PORT: the port `./run.sh` serves on. Without ECERT_BASE_URL the QR
codes and printed URLs lead to 127.0.0.1 on that port, not to a fixed
5000; a value that is no port is refused, in Chinese and English, when the
settings are read. The verifier alone never reads it."""

from __future__ import annotations

import json

import pytest

from issuer.config import DEFAULT_PORT, load_settings, port_number
from issuer.errors import ConfigError
from tests.helpers import PASSPHRASE, show, verify
from verifier.settings import load_verifier_settings


@pytest.fixture
def env(monkeypatch):
    monkeypatch.delenv("ECERT_BASE_URL", raising=False)
    monkeypatch.delenv("ECERT_PORT", raising=False)
    return monkeypatch


def test_the_default_base_url_follows_ecert_port(env):
    s = load_settings()
    assert (s.port, s.base_url) == (DEFAULT_PORT, "HTTP://127.0.0.1:5000")
    env.setenv("ECERT_PORT", "8123")
    s = load_settings()
    assert (s.port, s.base_url) == (8123, "HTTP://127.0.0.1:8123")
    env.setenv("ECERT_PORT", " 8123 ")
    assert load_settings().base_url == "HTTP://127.0.0.1:8123"
    env.setenv("ECERT_PORT", "")  # set but empty: as unset
    assert load_settings().base_url == "HTTP://127.0.0.1:5000"


def test_ecert_base_url_still_wins(env):
    env.setenv("ECERT_PORT", "8123")
    env.setenv("ECERT_BASE_URL", "https://ecert.example.gov.cn/")
    s = load_settings()
    assert (s.port, s.base_url) == (8123, "HTTPS://ECERT.EXAMPLE.GOV.CN")


@pytest.mark.parametrize(
    "value", ["0", "65536", "99999", "-1", "+80", "80a", "http", "8080.0", "80 80", "５０００", "9" * 5000]
)
def test_a_value_that_is_no_port_is_refused_in_both_languages(env, value):
    env.setenv("ECERT_PORT", value)
    with pytest.raises(ConfigError) as e:
        load_settings()
    assert "ECERT_PORT 应为 1 到 65535 之间的端口号" in e.value.message
    assert "ECERT_PORT must be a port number from 1 to 65535" in e.value.detail
    env.setenv("ECERT_BASE_URL", "HTTPS://ECERT.EXAMPLE.GOV.CN")  # refused whatever the base URL
    with pytest.raises(ConfigError):
        load_settings()


def test_the_edges_of_the_range_are_ports():
    assert [port_number(v) for v in (None, " ", "1", "65535", "05000")] == [5000, 5000, 1, 65535, 5000]


def test_the_verifier_alone_reads_no_port(env):
    """Without ECERT_BASE_URL the verifier alone has no base of its own: its
    batch report's QR codes lead to the address it was reached at
    (verifier/web/batch.py), which is on whatever port it is served on."""
    env.setenv("ECERT_PORT", "not a port")
    assert load_verifier_settings().base_url is None
    env.setenv("ECERT_BASE_URL", "http://ecert.example.gov.cn:8443/")
    assert load_verifier_settings().base_url == "HTTP://ECERT.EXAMPLE.GOV.CN:8443"


def test_certificates_issued_with_ecert_port_lead_to_that_port(region, env, tmp_path):
    env.setenv("ECERT_KEYS_DIR", str(tmp_path / "keys"))
    env.setenv("ECERT_KEY_PASSPHRASE", PASSPHRASE)
    env.setenv("ECERT_PORT", "8123")
    region.run("keys", "init")
    region.run("issue")
    number = json.loads(region.run("credits", region.a[0], "--json").stdout)["certificate_number"]
    url = show(region.run, number)["url"]
    assert url.startswith("HTTP://127.0.0.1:8123/V/"), url
    assert verify(region.run, url)["outcome"] == "valid"  # the URL is the certificate's

    # the full service hands the same base to its verifier (the batch report's QR codes)
    from issuer.web import create_app

    app = create_app(load_settings())
    try:
        assert app.config["ECERT_BASE_URL"] == "HTTP://127.0.0.1:8123"
    finally:
        app.extensions["ecert_verifier"].close()
        app.extensions["ecert_engine"].dispose()

    env.setenv("ECERT_PORT", "80a")
    r = region.run("show", number, check=False)
    assert r.exit_code == 1 and "ECERT_PORT 应为 1 到 65535 之间的端口号" in r.stderr

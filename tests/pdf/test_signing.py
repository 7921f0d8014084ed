"""Every certificate PDF is signed as a PDF (PAdES, issuer/pdf/sealing.py):
a client we did not write (poppler's pdfsig) finds it valid and whole, any
change after signing is caught by pdfsig and by our verifier, the signing
certificate is published beside the JWKS, and a CA's certificate for the
same key can replace the self-made one."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pypdf import PdfReader, PdfWriter

from tests.helpers import verify
from tests.pdf.conftest import write_pdf


def pdfsig(path) -> str:
    # -nocert: the self-made certificate is in no reader's trust store; what is
    # asked here is that the signature is valid and covers the whole document.
    return subprocess.run(["pdfsig", "-nocert", str(path)], capture_output=True, text=True).stdout


def _pdf_check(result: dict) -> dict:
    return next(c for c in result["checks"] if c["name"] == "pdf")


def test_pdfsig_finds_the_signature_valid_over_the_whole_document(issued, tmp_path):
    out = pdfsig(write_pdf(issued, tmp_path))
    assert "Signature Validation: Signature is Valid." in out, out
    assert "Total document signed" in out and "ETSI.CAdES.detached" in out
    assert "电子证书签章" in out  # the bureau's signing certificate


def cms_certificates(path) -> list[bytes]:
    """The certificates the PDF's CMS carries (DER)."""
    import re

    from asn1crypto import cms

    hexed = re.search(rb"/Contents <([0-9a-fA-F]+)>", path.read_bytes()).group(1)
    signed = cms.ContentInfo.load(bytes.fromhex(hexed.decode()).rstrip(b"\0"))["content"]
    return [c.chosen.dump() for c in signed["certificates"]]


def test_the_cms_carries_the_signers_certificate_once(issued, tmp_path):
    pem = issued("keys", "certs").stdout
    der = x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER)
    assert cms_certificates(write_pdf(issued, tmp_path)) == [der]


def test_the_signature_widget_lies_on_the_printed_seal(issued, tmp_path):
    reader = PdfReader(write_pdf(issued, tmp_path))
    page = reader.pages[0]
    widgets = [a.get_object() for a in page["/Annots"] if a.get_object().get("/FT") == "/Sig"]
    assert len(widgets) == 1
    x1, y1, x2, y2 = (float(v) for v in widgets[0]["/Rect"])
    # the seal: a 38 mm ring at the footer's bottom left (templates/certificate.css)
    assert abs((x2 - x1) - 38 / 25.4 * 72) < 1 and abs((y2 - y1) - 38 / 25.4 * 72) < 1
    assert x1 < float(page.mediabox.width) / 3 and y1 < float(page.mediabox.height) / 3


def test_the_verifier_reports_the_pdf_signature_intact(issued, tmp_path):
    result = verify(issued, str(write_pdf(issued, tmp_path)))
    assert result["valid"] is True and result["outcome"] == "valid"
    assert _pdf_check(result) == {
        "name": "pdf",
        "ok": True,
        "message": "PDF 电子签章有效，签章后未被修改",
        "detail": _pdf_check(result)["detail"],
    }
    assert [c["name"] for c in result["checks"]][:6] == [
        "format", "signature", "key", "status", "validity", "credits"
    ]  # fmt: skip


def test_a_one_byte_change_is_caught_by_pdfsig_and_by_the_verifier(issued, tmp_path):
    path = write_pdf(issued, tmp_path)
    data = bytearray(path.read_bytes())
    # a byte inside the signed range, in the page's content (not the signature itself)
    at = data.index(b"stream") + 20
    data[at] ^= 0x01
    bad = tmp_path / "changed.pdf"
    bad.write_bytes(bytes(data))
    assert "Signature is Valid" not in pdfsig(bad)
    result = verify(issued, str(bad))
    assert result["valid"] is False and result["outcome"] == "not_valid"
    assert _pdf_check(result)["ok"] is False
    assert _pdf_check(result)["detail"].startswith("PDF modified after signing")
    assert all(c["ok"] for c in result["checks"][:6])  # its token still verifies


def test_a_page_edited_and_saved_as_an_update_is_modified_after_signing(issued, tmp_path):
    """What an editor does: the signed file kept, an incremental update appended
    (here a text annotation over the credits)."""
    path = write_pdf(issued, tmp_path)
    writer = PdfWriter(str(path), incremental=True)
    from pypdf.annotations import FreeText

    writer.add_annotation(0, FreeText(text="120.00", rect=(300, 400, 400, 420)))
    edited = tmp_path / "edited.pdf"
    with edited.open("wb") as f:
        writer.write(f)
    assert edited.read_bytes().startswith(path.read_bytes())  # the signed revision is still inside
    result = verify(issued, str(edited))
    assert result["outcome"] == "not_valid"
    assert _pdf_check(result)["message"].startswith("PDF 在签章后被修改")
    assert "Total document signed" not in pdfsig(edited)


def test_the_upload_page_and_the_api_report_the_modification(issued, tmp_path, app_client):
    path = write_pdf(issued, tmp_path)
    data = bytearray(path.read_bytes())
    data[data.index(b"stream") + 20] ^= 0x01
    r = app_client.post("/api/v1/verify", data=bytes(data), content_type="application/pdf")
    body = r.get_json()
    assert body["outcome"] == "not_valid" and _pdf_check(body)["detail"].startswith("PDF modified")
    good = app_client.post("/api/v1/verify", data=path.read_bytes(), content_type="application/pdf")
    assert good.get_json()["outcome"] == "valid" and _pdf_check(good.get_json())["ok"] is True
    page = app_client.post(
        "/verify/upload",
        data={"file": (io.BytesIO(bytes(data)), "证书.pdf")},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    assert "PDF 在签章后被修改" in page and "页面已被改动" in page


def test_the_signing_certificate_is_published_beside_the_jwks(issued, tmp_path, app_client):
    signed = PdfReader(write_pdf(issued, tmp_path))
    pem = issued("keys", "certs").stdout
    cert = x509.load_pem_x509_certificate(pem.encode())
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"
    served = app_client.get("/.well-known/pdf-signing-certificates.pem")
    assert served.status_code == 200 and served.get_data(as_text=True) == pem
    jwks = app_client.get("/.well-known/jwks.json").get_json()
    der = cert.public_bytes(serialization.Encoding.DER)
    import base64

    assert [base64.b64decode(k["pdf_x5c"][0]) for k in jwks["keys"]] == [der]
    assert signed.trailer["/Root"]["/AcroForm"]["/Fields"]  # the signature field


def test_a_pdf_signed_by_another_key_is_not_the_bureaus(issued, tmp_path, monkeypatch):
    """Signed properly, but with a certificate the bureau never published."""
    path = write_pdf(issued, tmp_path)
    other = tmp_path / "other-keys"
    monkeypatch.setenv("ECERT_KEYS_DIR", str(other))
    from issuer.certificates import docsigning
    from issuer.certificates.docsigning import DocumentKey
    from issuer.pdf.sealing import Sealer

    key = docsigning.new_key()
    cert = docsigning.self_signed(key, "654004", "霍尔果斯市教育局", dt.datetime.now(dt.UTC))
    other.mkdir()
    key_path = other / "x.pdf-key.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"another passphrase"),
        )
    )
    monkeypatch.setenv("ECERT_KEY_PASSPHRASE", "another passphrase")
    sealer = Sealer(DocumentKey("x", str(key_path), docsigning.to_pem([cert])), "伪造")
    # the unsigned revision of the genuine PDF, signed again by the impostor
    unsigned = path.read_bytes()[: path.read_bytes().index(b"%%EOF") + 5]
    forged = tmp_path / "forged.pdf"
    forged.write_bytes(sealer.seal(unsigned + b"\n", (10, 10, 100, 100)))
    result = verify(issued, str(forged))
    assert result["outcome"] == "not_valid"
    assert _pdf_check(result)["message"] == "PDF 电子签章不是发证机关公布的签章证书所签"


def test_a_ca_certificate_for_the_same_key_replaces_the_self_made_one(issued, tmp_path):
    csr = x509.load_pem_x509_csr(issued("keys", "csr").stdout.encode())
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "测试 CA")])
    now = dt.datetime.now(dt.UTC)
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(ca_name)
        .public_key(csr.public_key())
        .serial_number(2)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .sign(ca_key, hashes.SHA256())
    )
    bundle = tmp_path / "issued.pem"
    bundle.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (leaf, ca)))
    issued("keys", "import-cert", str(bundle))
    assert "Signature is Valid" in pdfsig(path := write_pdf(issued, tmp_path))
    result = verify(issued, str(path))
    assert result["outcome"] == "valid" and _pdf_check(result)["ok"] is True
    assert sorted(cms_certificates(path)) == sorted(
        c.public_bytes(serialization.Encoding.DER) for c in (leaf, ca)
    )
    # a certificate for some other key is refused, and the installed one stays
    wrong = tmp_path / "wrong.pem"
    wrong.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    out = issued("keys", "import-cert", str(wrong), check=False)
    assert out.returncode != 0 and "不是本机关文档签章密钥的证书" in out.stdout + out.stderr
    assert issued("keys", "certs").stdout.count("BEGIN CERTIFICATE") == 2


def test_rendering_without_the_passphrase_stops_before_any_pdf(issued, tmp_path, monkeypatch):
    monkeypatch.setenv("ECERT_KEY_PASSPHRASE", "not the passphrase at all")
    out = issued("render", "--out", str(tmp_path / "pdfs"), check=False)
    assert out.returncode != 0 and "口令不正确" in out.stdout + out.stderr
    assert not list((tmp_path / "pdfs").glob("*.pdf"))


def test_keys_init_adds_a_pdf_certificate_to_a_key_made_before(issued, tmp_path, db_url):
    from sqlalchemy import update

    from issuer.db import make_engine, write_session
    from issuer.models import SigningKey

    engine = make_engine(db_url)
    with write_session(engine) as s:
        s.execute(update(SigningKey).values(pdf_certificate=None))
    engine.dispose()
    for f in (tmp_path / "keys").glob("*.pdf-key.pem"):
        f.unlink()  # as a key made before PDFs were signed: no PDF-signing key beside it
    assert issued("keys", "certs").stdout == ""
    assert "已为它生成 PDF 签章证书" in issued("keys", "init").stdout
    assert "Signature is Valid" in pdfsig(write_pdf(issued, tmp_path))


@pytest.fixture
def app_client(issued):
    from issuer.config import load_settings
    from issuer.web import create_app, limiter

    app = create_app(load_settings())
    limiter.reset()
    yield app.test_client()
    app.extensions["ecert_verifier"].close()
    app.extensions["ecert_engine"].dispose()


def test_offline_the_jwks_file_carries_the_pdf_certificate(issued, tmp_path):
    path = write_pdf(issued, tmp_path)
    jwks, status = tmp_path / "jwks.json", tmp_path / "status.json"
    issued("keys", "jwks", "-o", str(jwks))
    issued("status", "export", "-o", str(status))
    offline = ("--offline", "--jwks", str(jwks), "--status", str(status))
    result = verify(issued, str(path), *offline)
    assert result["outcome"] == "valid" and _pdf_check(result)["ok"] is True
    # a JWKS without the PDF certificates: the signature is not one the bureau published
    doc = json.loads(jwks.read_text(encoding="utf-8"))
    for k in doc["keys"]:
        del k["pdf_x5c"]
    jwks.write_text(json.dumps(doc), encoding="utf-8")
    result = verify(issued, str(path), *offline)
    assert result["outcome"] == "not_valid" and not _pdf_check(result)["ok"]

"""The city's certificate authority and the signing keys of its units.

Created at first use under `<data_dir>/secrets/ca/` (never in git): a root CA for the
city ("Thủ Đô Số — CA Thành phố Hà Nội"), and for each unit that signs results a key and
a certificate issued by it. Validation trusts that root. In production, the root's key
belongs offline or in an HSM and units' keys in the national digital-signature service;
the file layout is the seam where those plug in.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "Thủ Đô Số — CA Thành phố Hà Nội"
ORGANISATION = "Ủy ban nhân dân Thành phố Hà Nội"
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.4.1.311.10.3.12")
_NO_USAGE = dict.fromkeys(
    (
        "digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
        "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only",
    ),
    False,
)  # fmt: skip
CA_USAGE = x509.KeyUsage(**{**_NO_USAGE, "key_cert_sign": True, "crl_sign": True})
SIGNER_USAGE = x509.KeyUsage(**{**_NO_USAGE, "digital_signature": True, "content_commitment": True})


@dataclass(frozen=True)
class KeyPair:
    key_path: Path
    cert_path: Path

    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_path.read_bytes())


def ca_dir(data_dir: Path) -> Path:
    return data_dir / "secrets" / "ca"


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """One process at a time creates keys (several web workers start together)."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    with (directory / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write_private(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o600)


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=3072)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def ensure_city_ca(data_dir: Path) -> KeyPair:
    directory = ca_dir(data_dir)
    pair = KeyPair(directory / "root.key", directory / "root.crt")
    if pair.cert_path.exists():
        return pair
    with _locked(directory):
        if pair.cert_path.exists():
            return pair
        key = _new_key()
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
                x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME),
            ]
        )
        start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(CA_USAGE, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        _write_private(pair.key_path, _key_pem(key))
        pair.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return pair


def _safe(code: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,60}", code):
        raise ValueError(f"unit code not usable as a file name: {code!r}")
    return code


def ensure_unit_signer(data_dir: Path, *, unit_code: str, unit_name: str) -> KeyPair:
    """The unit's signing key and certificate, issued by the city CA on first use."""
    root = ensure_city_ca(data_dir)
    directory = ca_dir(data_dir) / "units"
    pair = KeyPair(directory / f"{_safe(unit_code)}.key", directory / f"{unit_code}.crt")
    if pair.cert_path.exists():
        return pair
    with _locked(directory):
        if pair.cert_path.exists():
            return pair
        ca_key = serialization.load_pem_private_key(root.key_path.read_bytes(), password=None)
        assert isinstance(ca_key, rsa.RSAPrivateKey)
        ca_cert = root.certificate()
        key = _new_key()
        start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        cert = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
                        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit_code),
                        x509.NameAttribute(NameOID.COMMON_NAME, unit_name[:64]),
                    ]
                )
            )
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=3 * 365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(SIGNER_USAGE, critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([DOCUMENT_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
            .sign(ca_key, hashes.SHA256())
        )
        _write_private(pair.key_path, _key_pem(key))
        pair.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return pair

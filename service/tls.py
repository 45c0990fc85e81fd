"""HTTPS for the phone page: browsers allow the screen wake lock, notifications
and service workers only on secure pages, and a kitchen LAN has no public name
to get a real certificate for. ``tls = "self-signed"`` makes one once, keeps it
in the state directory, and reuses it (so the phone's exception sticks).
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import socket
from pathlib import Path

log = logging.getLogger(__name__)


def self_signed(state_dir: Path) -> tuple[Path, Path]:
    cert_path, key_path = state_dir / "potwatch-cert.pem", state_dir / "potwatch-key.pem"
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    host = socket.gethostname()
    names: list[x509.GeneralName] = [
        x509.DNSName(host),
        x509.DNSName(f"{host}.local"),
        x509.DNSName("localhost"),
    ]
    names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"potwatch on {host}")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    log.info("made a self-signed certificate for %s in %s", host, cert_path)
    return cert_path, key_path

"""Keys and certificates for the lab: cluster CAs, serving and client certificates.

Everything here is test material made on the fly; nothing leaves the lab's state directory.
"""

import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def key_pem(key):
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def cert_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def load_key(pem):
    return serialization.load_pem_private_key(pem, password=None)


def load_cert(pem):
    return x509.load_pem_x509_certificate(pem)


def key_usage(ca):
    """Digital signature and key encipherment; a CA also signs certificates and CRLs."""
    return x509.KeyUsage(
        digital_signature=True, key_encipherment=True, key_cert_sign=ca, crl_sign=ca,
        content_commitment=False, data_encipherment=False, key_agreement=False,
        encipher_only=False, decipher_only=False)


def make_ca(common_name):
    key = new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start = now() - datetime.timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def issue(ca_key, ca_cert, public_key, subject, *, server=False, client=False,
          dns_names=(), ip_addresses=(), not_before=None, not_after=None, san=None):
    """Sign a leaf certificate. `subject` is an x509.Name; `san` an x509.SubjectAlternativeName
    to copy as it is (else one is built from dns_names and ip_addresses)."""
    not_before = not_before or (now() - datetime.timedelta(minutes=5))
    not_after = not_after or (not_before + datetime.timedelta(days=365))
    usages = []
    if server:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    if client:
        usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage(ca=False), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if san is None:
        names = [x509.DNSName(n) for n in dns_names]
        names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
        san = x509.SubjectAlternativeName(names) if names else None
    if san is not None:
        builder = builder.add_extension(san, critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def subject(common_name, organizations=()):
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def write(path, data, private=False):
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(path, flags, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return path


class ClusterPKI:
    """The files one lab cluster needs, written under `directory`."""

    def __init__(self, directory, cluster_name):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        ca_key, ca_cert = make_ca(f"{cluster_name}-ca")
        self.ca_key_file = write(os.path.join(directory, "ca.key"), key_pem(ca_key), private=True)
        self.ca_file = write(os.path.join(directory, "ca.crt"), cert_pem(ca_cert))

        serving_key = new_key()
        serving = issue(
            ca_key, ca_cert, serving_key.public_key(), subject("kube-apiserver"), server=True,
            dns_names=("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"),
            ip_addresses=("127.0.0.1",),
        )
        self.serving_key_file = write(
            os.path.join(directory, "apiserver.key"), key_pem(serving_key), private=True)
        self.serving_file = write(os.path.join(directory, "apiserver.crt"), cert_pem(serving))

        admin_key = new_key()
        admin = issue(ca_key, ca_cert, admin_key.public_key(),
                      subject("lab-admin", ["system:masters"]), client=True)
        self.admin_key_file = write(
            os.path.join(directory, "admin.key"), key_pem(admin_key), private=True)
        self.admin_file = write(os.path.join(directory, "admin.crt"), cert_pem(admin))

        sa_key = new_key()
        self.sa_key_file = write(os.path.join(directory, "sa.key"), key_pem(sa_key), private=True)
        self.sa_pub_file = write(
            os.path.join(directory, "sa.pub"),
            sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        )

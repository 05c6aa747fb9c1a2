# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The legacy webhook's TLS material, with cryptography: keys, CSRs, inspection, decisions.

Nothing here talks to a cluster, and nothing returns key material: inspection results hold
only public facts (subject, SANs, issuer, validity, whether key and certificate match).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import traceback

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError:
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()

KEY_SIZE = 2048


def service_dns_names(service, namespace):
    """The names the webhook's certificate must carry, as the install script sets them."""
    return [service, "%s.%s" % (service, namespace), "%s.%s.svc" % (service, namespace)]


def new_private_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)


def private_key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def build_csr(key, service, namespace):
    """PEM CSR: CN <service>.<namespace>.svc, the three SANs, server auth."""
    names = service_dns_names(service, namespace)
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[2])]))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=False)
        .add_extension(x509.KeyUsage(
            digital_signature=True, key_encipherment=True, content_commitment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    return request.public_bytes(serialization.Encoding.PEM)


def _utc(value, attribute):
    # cryptography >= 42 has the *_utc properties; older ones return naive UTC datetimes
    aware = getattr(value, attribute + "_utc", None)
    if aware is not None:
        return aware
    return getattr(value, attribute).replace(tzinfo=datetime.timezone.utc)


def _public_bytes(public_key):
    return public_key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def inspect(cert_pem, key_pem=None, ca_pem=None, now=None):
    """Public facts about a certificate (and whether `key_pem` is its key and `ca_pem` its
    issuer). Never raises on bad input: `valid_pem` is False and `error` says why."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    facts = {"valid_pem": False, "error": None, "subject": None, "issuer": None,
             "dns_names": [], "serial_number": None, "not_before": None, "not_after": None,
             "days_left": None, "expired": None, "server_auth": None, "key_matches": None,
             "chains_to_cluster_ca": None}
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except (ValueError, TypeError) as e:
        facts["error"] = "cert.pem is not a PEM certificate: %s" % e
        return facts
    not_after = _utc(cert, "not_valid_after")
    facts.update({
        "valid_pem": True,
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "serial_number": "%x" % cert.serial_number,
        "not_before": _utc(cert, "not_valid_before").strftime("%Y-%m-%dT%H:%M:%SZ"),
        "not_after": not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "days_left": int((not_after - now).total_seconds() // 86400),
        "expired": not_after <= now,
    })
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        facts["dns_names"] = sans.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        pass
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        facts["server_auth"] = ExtendedKeyUsageOID.SERVER_AUTH in eku
    except x509.ExtensionNotFound:
        facts["server_auth"] = True  # no EKU extension: any purpose
    if key_pem is not None:
        try:
            key = serialization.load_pem_private_key(key_pem, password=None)
            facts["key_matches"] = _public_bytes(key.public_key()) == _public_bytes(
                cert.public_key())
        except (ValueError, TypeError):
            facts["key_matches"] = False
    if ca_pem is not None:
        facts["chains_to_cluster_ca"] = issued_by(cert, ca_pem)
    return facts


def issued_by(cert, ca_pem):
    """Whether `cert` (a cryptography certificate, or DER bytes) is signed by a certificate of
    the PEM bundle `ca_pem` (the cluster CA from DescribeCluster). False for anything unreadable."""
    try:
        if isinstance(cert, bytes):
            cert = x509.load_der_x509_certificate(cert)
        authorities = x509.load_pem_x509_certificates(ca_pem)
    except (ValueError, TypeError):
        return False
    for authority in authorities:
        try:
            cert.verify_directly_issued_by(authority)
            return True
        except (ValueError, TypeError, InvalidSignature):
            continue
    return False


def same_authority(bundle_pem, ca_pem):
    """Whether the PEM bundle `bundle_pem` (a cluster's kube-root-ca.crt) holds the CA
    certificate `ca_pem` (DescribeCluster's), byte for byte in DER."""
    try:
        wanted = set(c.public_bytes(serialization.Encoding.DER)
                     for c in x509.load_pem_x509_certificates(ca_pem))
        found = set(c.public_bytes(serialization.Encoding.DER)
                    for c in x509.load_pem_x509_certificates(bundle_pem))
    except (ValueError, TypeError):
        return False
    return bool(wanted & found)


def describe(cert):
    """'subject CN=kube-apiserver, issued by CN=kubernetes, SHA-256 ab:cd:...' (the first 8
    bytes of the fingerprint) of a certificate, DER bytes or a PEM bundle (its first), for messages."""
    try:
        if isinstance(cert, bytes):
            cert = (x509.load_pem_x509_certificates(cert)[0] if cert.lstrip().startswith(b"-----")
                    else x509.load_der_x509_certificate(cert))
        digest = cert.fingerprint(hashes.SHA256())[:8]
    except (ValueError, TypeError):
        return "an unreadable certificate"
    return "subject %s, issued by %s, SHA-256 %s..." % (
        cert.subject.rfc4514_string() or "(empty)", cert.issuer.rfc4514_string() or "(empty)",
        ":".join("%02x" % b for b in bytearray(digest)))


def secret_problem(facts):
    """What keeps the legacy webhook from serving with its Secret, as (id, sentence), or None when
    the Secret holds a readable certificate and its key. One home for "is this Secret a usable
    webhook certificate": vpc_webhook_cert's renewal (renewal_reason) and the assessment read it.
    `facts` are webhook_cert.describe's (present, valid_pem, error, key_matches); None or
    present=False is no Secret. The ids: secret_missing, unreadable, key_mismatch, key_missing.
    Names, issuer and dates are judged apart."""
    if facts is None or facts.get("present") is False:
        return "secret_missing", "there is no certificate"
    if not facts["valid_pem"]:
        return "unreadable", facts["error"]
    if facts["key_matches"] is False:
        return "key_mismatch", "key.pem does not match cert.pem"
    if facts["key_matches"] is None:
        return "key_missing", "key.pem is missing"
    return None


def renewal_reason(facts, expected_dns_names, renew_before_days, force=False):
    """Why the certificate must be (re)issued, or None when it is good."""
    if force:
        return "force is set"
    problem = secret_problem(facts)
    if problem:
        return problem[1]
    missing = [n for n in expected_dns_names if n not in facts["dns_names"]]
    if missing:
        return "the certificate does not name the webhook Service (missing %s)" % ", ".join(missing)
    if facts["chains_to_cluster_ca"] is False:
        return "the certificate is not signed by the cluster CA"
    if facts["server_auth"] is False:
        return "the certificate is not for server auth"
    if facts["expired"]:
        return "the certificate expired on %s" % facts["not_after"]
    if facts["days_left"] < renew_before_days:
        return "the certificate expires in %d days (renew_before is %d)" % (
            facts["days_left"], renew_before_days)
    return None


def issued_problems(cert_pem, key_pem, ca_pem, expected_dns_names):
    """What is wrong with a certificate the signer just issued, as a list of sentences."""
    facts = inspect(cert_pem, key_pem, ca_pem)
    if not facts["valid_pem"]:
        return [facts["error"]]
    problems = []
    if not facts["key_matches"]:
        problems.append("it does not match the key we generated")
    missing = [n for n in expected_dns_names if n not in facts["dns_names"]]
    if missing:
        problems.append("it lacks the SANs %s" % ", ".join(missing))
    if not facts["server_auth"]:
        problems.append("it is not for server auth")
    if facts["chains_to_cluster_ca"] is False:
        problems.append("it is not signed by the cluster CA")
    if facts["expired"]:
        problems.append("it is already expired")
    return problems

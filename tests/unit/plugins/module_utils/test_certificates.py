import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ansible_collections.eksops.windows.plugins.module_utils import (
    _certificates as certificates,
    _csr as csr,
)

NAMES = tuple(certificates.service_dns_names("vpc-admission-webhook", "kube-system"))
NOW = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)


def ca():
    key = certificates.new_private_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cluster-ca")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(NOW - datetime.timedelta(days=10))
            .not_valid_after(NOW + datetime.timedelta(days=3000))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


CA_KEY, CA_CERT = ca()
CA_PEM = CA_CERT.public_bytes(certificates.serialization.Encoding.PEM)


def leaf(days_left, names=NAMES, key=None, signer=CA_KEY, eku=ExtendedKeyUsageOID.SERVER_AUTH):
    key = key or certificates.new_private_key()
    not_after = NOW + datetime.timedelta(days=days_left, hours=1)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[-1])]))
            .issuer_name(CA_CERT.subject).public_key(key.public_key()).serial_number(7)
            .not_valid_before(not_after - datetime.timedelta(days=365)).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
            .add_extension(x509.ExtendedKeyUsage([eku]), False)
            .sign(signer, hashes.SHA256()))
    return (certificates.private_key_pem(key),
            cert.public_bytes(certificates.serialization.Encoding.PEM))


def reason(days_left=200, renew_before=30, **kwargs):
    key_pem, cert_pem = leaf(days_left, **kwargs)
    facts = certificates.inspect(cert_pem, key_pem, CA_PEM, now=NOW)
    return certificates.renewal_reason(facts, NAMES, renew_before)


def test_good_certificate_needs_nothing():
    assert reason() is None


def test_expiring_within_renew_before():
    assert reason(days_left=5) == "the certificate expires in 5 days (renew_before is 30)"


def test_expired():
    assert reason(days_left=-3).startswith("the certificate expired on")


def test_wrong_names():
    assert "missing vpc-admission-webhook" in reason(names=["other.kube-system.svc"])


def test_not_from_the_cluster_ca():
    other_key = ca()[0]
    assert reason(signer=other_key) == "the certificate is not signed by the cluster CA"


def test_client_certificate_is_not_serving():
    assert reason(eku=ExtendedKeyUsageOID.CLIENT_AUTH) == "the certificate is not for server auth"


def test_key_mismatch_and_garbage():
    cert_pem = leaf(200)[1]
    other_key_pem = leaf(200)[0]
    facts = certificates.inspect(cert_pem, other_key_pem, CA_PEM, now=NOW)
    assert certificates.renewal_reason(facts, NAMES, 30) == "key.pem does not match cert.pem"
    garbage = certificates.inspect(b"not a cert", b"x", CA_PEM, now=NOW)
    assert not garbage["valid_pem"]
    assert certificates.renewal_reason(garbage, NAMES, 30).startswith("cert.pem is not a PEM")
    assert certificates.renewal_reason(None, NAMES, 30) == "there is no certificate"


def test_force_wins():
    key_pem, cert_pem = leaf(200)
    facts = certificates.inspect(cert_pem, key_pem, CA_PEM, now=NOW)
    assert certificates.renewal_reason(facts, NAMES, 30, force=True) == "force is set"


def test_csr_carries_the_script_names():
    key = certificates.new_private_key()
    request = x509.load_pem_x509_csr(certificates.build_csr(key, "vpc-admission-webhook",
                                                            "kube-system"))
    assert request.subject.rfc4514_string() == "CN=vpc-admission-webhook.kube-system.svc"
    sans = request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == list(NAMES)
    assert key.key_size == 2048


def test_issued_problems_lists_everything_wrong():
    key_pem = leaf(200)[0]
    wrong = leaf(200, names=["x"], eku=ExtendedKeyUsageOID.CLIENT_AUTH)[1]
    problems = certificates.issued_problems(wrong, key_pem, CA_PEM, NAMES)
    assert any("does not match" in p for p in problems)
    assert any("lacks the SANs" in p for p in problems)
    assert any("server auth" in p for p in problems)


@pytest.mark.parametrize("version, api, signer, expected", [
    ("1.19", "auto", None, ("v1beta1", None)),
    ("1.21", "auto", None, ("v1beta1", None)),
    ("1.22", "auto", None, ("v1", csr.APP_SERVING_SIGNER)),
    ("1.29", "auto", None, ("v1", csr.APP_SERVING_SIGNER)),
    ("1.21", "v1", None, ("v1", csr.APP_SERVING_SIGNER)),
    ("1.29", "v1beta1", None, ("v1beta1", None)),
    ("1.29", "v1", "example.com/signer", ("v1", "example.com/signer")),
])
def test_csr_api_choice(version, api, signer, expected):
    assert csr.choose(version, api, signer) == expected


def test_v1_refuses_the_legacy_signer():
    with pytest.raises(csr.CsrError, match="does not accept"):
        csr.choose("1.21", "v1", csr.LEGACY_SIGNER)

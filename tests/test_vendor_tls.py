"""deploy/vendor_tls.py: the local CA, the vendors' certificate, nginx's config and the hosts line.

tests/test_solver_clients.py runs the client libraries through what it writes.
"""

import subprocess
import sys

import pytest

from deploy.local_server import NGINX, ROOT
from deploy.vendor_tls import VENDOR_HOSTS, issue_certificate, make_certificates


def vendor_tls(directory, *arguments):
    finished = subprocess.run(
        [sys.executable, "-m", "deploy.vendor_tls", str(directory), *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return finished.stdout


def openssl(*arguments):
    return subprocess.run(["openssl", *arguments], capture_output=True, text=True, check=True).stdout


def test_it_writes_a_certificate_for_every_vendor_host_signed_by_its_own_ca(tmp_path):
    vendor_tls(tmp_path)
    assert "vendors.pem: OK" in openssl("verify", "-CAfile", str(tmp_path / "ca.pem"), str(tmp_path / "vendors.pem"))
    names = openssl("x509", "-in", str(tmp_path / "vendors.pem"), "-noout", "-ext", "subjectAltName")
    assert all(f"DNS:{host}" in names for host in VENDOR_HOSTS)
    assert (
        "api.anti-captcha.com" in VENDOR_HOSTS
        and "2captcha.com" in VENDOR_HOSTS
        and "api.capmonster.cloud" in VENDOR_HOSTS
    )


def test_a_second_run_keeps_the_ca_the_bots_already_trust(tmp_path):
    vendor_tls(tmp_path)
    ca = (tmp_path / "ca.pem").read_bytes()
    vendor_tls(tmp_path)
    assert (tmp_path / "ca.pem").read_bytes() == ca
    assert "vendors.pem: OK" in openssl("verify", "-CAfile", str(tmp_path / "ca.pem"), str(tmp_path / "vendors.pem"))


def test_it_prints_the_hosts_line_and_the_trust_variables(tmp_path):
    printed = vendor_tls(tmp_path, "--address", "10.1.2.3")
    assert f"/etc/hosts: 10.1.2.3 {' '.join(VENDOR_HOSTS)}\n" in printed
    for variable in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS"):
        assert f"{variable}={tmp_path.resolve() / 'ca.pem'}" in printed


def test_its_nginx_config_listens_with_tls_before_the_service(tmp_path):
    vendor_tls(tmp_path, "--listen", "127.0.0.1:8443", "--port", "9000", "--instances", "2")
    config = (tmp_path / "nginx.conf").read_text()
    assert "listen 127.0.0.1:8443 ssl;" in config
    assert f"ssl_certificate {tmp_path.resolve() / 'vendors.pem'};" in config
    assert "server 127.0.0.1:9000 " in config and "server 127.0.0.1:9001 " in config
    if NGINX is None:
        pytest.skip("nginx is not installed: its config is not checked by nginx -t")
    subprocess.run(
        [NGINX, "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)], capture_output=True, check=True
    )


def test_the_default_listens_on_443_for_the_libraries_that_call_it(tmp_path):
    vendor_tls(tmp_path)
    assert "listen 0.0.0.0:443 ssl;" in (tmp_path / "nginx.conf").read_text()


def test_the_ca_can_vouch_for_the_vendors_names_only(tmp_path):
    """Bots trust ca.pem beside the public CAs (NODE_EXTRA_CA_CERTS adds it): its key, on nginx's machine, must not be
    able to vouch for their bank. Name constraints limit it to the names it was made for, and it signs no other CA."""
    vendor_tls(tmp_path)
    constraints = openssl("x509", "-in", str(tmp_path / "ca.pem"), "-noout", "-ext", "basicConstraints,nameConstraints")
    assert "pathlen:0" in constraints and all(f"DNS:{host}" in constraints for host in VENDOR_HOSTS)
    issue_certificate(tmp_path, ["bank.example"], "other")
    refused = subprocess.run(
        ["openssl", "verify", "-CAfile", str(tmp_path / "ca.pem"), str(tmp_path / "other.pem")],
        capture_output=True,
        text=True,
    )
    assert refused.returncode != 0 and "permitted subtree violation" in refused.stdout + refused.stderr
    assert "vendors.pem: OK" in openssl("verify", "-CAfile", str(tmp_path / "ca.pem"), str(tmp_path / "vendors.pem"))


def test_a_certificate_for_an_address_still_verifies_under_its_constrained_ca(tmp_path):
    """tests/test_solver_clients.py's https front: a CA made for 127.0.0.1 signs a certificate for it."""
    certificate, _key = make_certificates(tmp_path, ["127.0.0.1"], "server")
    assert "server.pem: OK" in openssl(
        "verify", "-CAfile", str(tmp_path / "ca.pem"), "-verify_ip", "127.0.0.1", str(certificate)
    )

"""Answer as the solving services' own hosts, for client libraries that hard-code them.

    python3 -m deploy.vendor_tls DIRECTORY [--address 127.0.0.1] [--listen 0.0.0.0:443] [--port 8000] [--instances 1]

Run from the repository root. Writes into DIRECTORY (created if need be):

- ca.pem, ca.key: a local certificate authority (kept and reused when the script runs again, so bots
  that trust it keep trusting it); give ca.pem to the bots, keep ca.key to yourself;
- vendors.pem, vendors.key: a certificate for every name in VENDOR_HOSTS, signed by that CA;
- nginx.conf: deploy/nginx_conf.py's front, listening with TLS on --listen (443: the port the libraries call).

Then it prints the line for the bots' /etc/hosts (the vendors' names at --address, where nginx listens) and
the variables that make each stack trust ca.pem. docs/solver-protocols.md has the recipe step by step.
"""

import argparse
import ipaddress
import pathlib
import subprocess

from deploy.nginx_conf import nginx_conf

# The hosts the client libraries call, read in their code: anticaptchaofficial and @antiadmin/anticaptchaofficial
# (api.anti-captcha.com), capmonster_python (api.capmonster.cloud), @2captcha/captcha-solver and npm 2captcha
# (2captcha.com), rucaptcha-2captcha (rucaptcha.com or 2captcha.com); the others' defaults, which an option changes
# (python-anticaptcha, 2captcha-python, capsolver, capmonstercloudclient), and 2captcha's API v2 host.
VENDOR_HOSTS = (
    "api.anti-captcha.com",
    "api.capmonster.cloud",
    "2captcha.com",
    "api.2captcha.com",
    "rucaptcha.com",
    "api.rucaptcha.com",
    "api.capsolver.com",
)

# How each stack is told to trust the local CA (it replaces the default bundle: give a bundle that also holds the
# public CAs if the same process calls other https sites).
TRUST_VARIABLES = {
    "REQUESTS_CA_BUNDLE": "Python requests (anticaptchaofficial, python-anticaptcha, 2captcha-python, capsolver)",
    "SSL_CERT_FILE": "Python httpx and aiohttp, and OpenSSL in general (capmonster_python, capmonstercloudclient)",
    "NODE_EXTRA_CA_CERTS": "Node.js, added to its own CAs (@antiadmin/anticaptchaofficial, @2captcha/captcha-solver, "
    "2captcha, rucaptcha-2captcha)",
}


def make_certificates(directory, names, certificate_name="vendors"):
    """A CA in ``directory`` (ca.pem, ca.key; an existing one is reused) and a server certificate for ``names``
    (host names or IP addresses) signed by it; returns the (certificate, key) paths.

    The bots trust the CA beside the public ones, so a new one may vouch only for ``names`` (and their subdomains:
    name constraints, which OpenSSL and so Python and Node enforce) and signs no other CA (pathlen:0): its key, on
    nginx's machine, cannot impersonate any other site to them."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if not (directory / "ca.pem").exists() or not (directory / "ca.key").exists():
        _openssl(
            directory,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "3650",
            "-subj",
            "/CN=captcha-ocr local CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE,pathlen:0",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-addext",
            f"nameConstraints=critical,{','.join(f'permitted;{permitted_subtree(name)}' for name in names)}",
        )
        (directory / "ca.key").chmod(0o600)
    return issue_certificate(directory, names, certificate_name)


def issue_certificate(directory, names, certificate_name):
    """A server certificate for ``names`` signed by the CA in ``directory``; returns the (certificate, key) paths."""
    certificate, key = directory / f"{certificate_name}.pem", directory / f"{certificate_name}.key"
    _openssl(
        directory,
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        key.name,
        "-out",
        f"{certificate_name}.csr",
        "-subj",
        f"/CN={names[0]}",
    )
    key.chmod(0o600)
    (directory / f"{certificate_name}.cnf").write_text(
        f"subjectAltName={','.join(subject_alternative_name(name) for name in names)}\n"
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n"
    )
    # 397 days: the longest validity browsers and Apple's TLS stack accept for a server certificate.
    _openssl(
        directory,
        "x509",
        "-req",
        "-in",
        f"{certificate_name}.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        certificate.name,
        "-days",
        "397",
        "-extfile",
        f"{certificate_name}.cnf",
    )
    return certificate, key


def _openssl(directory, *arguments):
    subprocess.run(["openssl", *arguments], cwd=directory, check=True, capture_output=True)


def subject_alternative_name(name):
    try:
        return f"IP:{ipaddress.ip_address(name)}"
    except ValueError:
        return f"DNS:{name}"


def permitted_subtree(name):
    """The CA's name constraint for ``name``: the name and its subdomains, or that one address."""
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return f"DNS:{name}"
    return f"IP:{address}/{ipaddress.ip_network(address).netmask}"


def hosts_line(address):
    """The /etc/hosts line that sends the bots' calls to the vendors' hosts to ``address``."""
    return f"{address} {' '.join(VENDOR_HOSTS)}"


def write_front(directory, listen="0.0.0.0:443", port=8000, instances=1):
    """ca.pem, the vendors' certificate and nginx.conf in ``directory``; returns nginx.conf's path."""
    certificate, key = make_certificates(directory, VENDOR_HOSTS)
    config = pathlib.Path(directory) / "nginx.conf"
    config.write_text(nginx_conf(instances, port, listen, certificate.resolve(), key.resolve()))
    return config


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", type=pathlib.Path)
    parser.add_argument("--address", default="127.0.0.1", help="where the bots reach nginx (for the hosts line)")
    parser.add_argument("--listen", default="0.0.0.0:443", help="nginx's listen address (the libraries call port 443)")
    parser.add_argument("--port", type=int, default=8000, help="the first service process's port")
    parser.add_argument(
        "--instances", type=int, default=1, help="how many service processes (PM2's CAPTCHA_OCR_INSTANCES)"
    )
    arguments = parser.parse_args()
    config = write_front(arguments.directory, arguments.listen, arguments.port, arguments.instances)
    directory = arguments.directory.resolve()
    print(f"nginx:      nginx -c {config.resolve()} -p {directory}")
    print(f"/etc/hosts: {hosts_line(arguments.address)}")
    for variable, stack in TRUST_VARIABLES.items():
        print(f"trust:      {variable}={directory / 'ca.pem'}    # {stack}")


if __name__ == "__main__":
    main()

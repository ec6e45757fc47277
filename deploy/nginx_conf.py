"""Print deploy/nginx.conf.in filled in for N service processes on consecutive ports, on one machine or several.

    python3 deploy/nginx_conf.py [--instances N] [--port 8000] [--listen 127.0.0.1:8080] [--host ADDRESS ...]
                                 [--certificate CERT.pem --certificate-key KEY.pem] [--shared-tasks] > nginx.conf

PM2 with CAPTCHA_OCR_INSTANCES=N runs the processes on PORT, PORT+1, ... (eco.config.js). With
several --host, each of those machines runs N processes so, and nginx balances over all of them:
give them one REDIS_URL and --shared-tasks, so that any process answers a poll for any task.
"""

import argparse
import pathlib

TEMPLATE = pathlib.Path(__file__).with_name("nginx.conf.in")
ONE_MACHINE = ("127.0.0.1",)


def nginx_conf(instances, port, listen, certificate=None, certificate_key=None, shared_tasks=False, hosts=ONE_MACHINE):
    """The config; with a certificate and its key, nginx speaks HTTPS (2captcha's client always does). ``shared_tasks``:
    the processes keep their tasks in one Redis (REDIS_URL), so the protocols' calls go round robin too. ``hosts``:
    the machines, each running ``instances`` processes from ``port`` on."""
    servers = "\n".join(  # an IPv6 address in brackets, as nginx reads one with a port ("fd00::2:8000" would not be)
        f"        server {f'[{host}]' if ':' in host else host}:{port + index} max_fails=3 fail_timeout=2s;"
        for host in (given.strip("[]") for given in hosts)
        for index in range(instances)
    )
    tls = ""
    if certificate:
        listen += " ssl"
        tls = f"        ssl_certificate {certificate};\n        ssl_certificate_key {certificate_key};\n"
    balancing = "" if shared_tasks else "        hash $remote_addr consistent;\n"
    return (
        TEMPLATE.read_text()
        .replace("@SERVERS@", servers)
        .replace("@LISTEN@", listen)
        .replace("@TLS@\n", tls)
        .replace("@TASK_BALANCING@\n", balancing)
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--port", type=int, default=8000, help="the first process's port")
    parser.add_argument("--listen", default="127.0.0.1:8080")
    parser.add_argument("--certificate", help="a PEM certificate (chain): listen with TLS")
    parser.add_argument("--certificate-key", help="the certificate's PEM key")
    parser.add_argument(
        "--shared-tasks",
        action="store_true",
        help="the processes share their tasks in Redis (REDIS_URL): no client pinning",
    )
    parser.add_argument(
        "--host",
        action="append",
        dest="hosts",
        help="a machine running the processes (repeat for each; default 127.0.0.1)",
    )
    arguments = parser.parse_args()
    if bool(arguments.certificate) != bool(arguments.certificate_key):
        parser.error("--certificate and --certificate-key go together")
    print(
        nginx_conf(
            arguments.instances,
            arguments.port,
            arguments.listen,
            arguments.certificate,
            arguments.certificate_key,
            arguments.shared_tasks,
            tuple(arguments.hosts or ONE_MACHINE),
        ),
        end="",
    )

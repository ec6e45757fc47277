"""Serve the app with waitress, whose own refusals (413, malformed HTTP) are JSON like ours."""

import json
import os
import signal
import sys

from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask

from .. import solver_protocols
from ..config import read_slots
from ..memory import TrimFreedHeap, limit_malloc_arenas
from .auth import api_keys, is_loopback, warn_if_open_to_the_network
from .cors import allowed_origin


class JsonErrorTask(ErrorTask):
    """Answer a request that waitress refuses before the app sees it with ``{"detail": ...}``, readable by the pages
    CORS_ORIGINS names, as the app's own answers are."""

    def execute(self):
        error = self.request.error
        content_type, body = "application/json", json.dumps({"detail": f"{error.reason}: {error.body}"})
        self.status = f"{error.code} {error.reason}"
        if error.code == 413:  # a solver protocol's clients read only its own words, with HTTP 200
            answer = solver_protocols.too_big_answer(
                self.channel.server.flask_app, self.request.path, self.request.query
            )
            if answer is not None:
                (content_type, body), self.status = answer, "200 OK"
        body = body.encode()
        self.response_headers.append(("Content-Type", content_type))
        origin = allowed_origin(self.channel.server.flask_app.config, self.request.headers.get("ORIGIN"))
        if origin is not None:
            self.response_headers += [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class JsonErrorChannel(HTTPChannel):
    error_task_class = JsonErrorTask


class JsonErrorServer(TcpWSGIServer):
    channel_class = JsonErrorChannel


def warn_if_no_proxy_in_front(logger, config):
    """Beyond loopback and with no proxy, slow clients can hold every connection: say so at start-up."""
    if not is_loopback(config["HOST"]) and not config["TRUSTED_PROXY"]:
        logger.warning(
            "listening on %s with no proxy in front (TRUSTED_PROXY is unset): %d clients that send their "
            "requests slowly hold every connection (slowloris); put nginx in front (deploy/nginx_conf.py)",
            config["HOST"],
            config["CONNECTION_LIMIT"],
        )


def waitress_settings(config):
    """waitress' settings from the app config.

    waitress refuses a body of ``max_request_body_size`` bytes or more, Flask one of more than
    ``MAX_CONTENT_LENGTH``: the +1 makes both refuse the same bodies. Behind a proxy at
    ``TRUSTED_PROXY`` (an address), its ``X-Forwarded-For``/``-Proto``/``-Host`` are believed.
    """
    proxy = {}
    if config["TRUSTED_PROXY"]:
        proxy = {
            "trusted_proxy": config["TRUSTED_PROXY"],
            "trusted_proxy_count": 1,
            "trusted_proxy_headers": "x-forwarded-for x-forwarded-proto x-forwarded-host",
            "clear_untrusted_proxy_headers": True,
        }
    return proxy | {
        "host": config["HOST"],
        "port": config["PORT"],
        "threads": config["THREADS"],
        "connection_limit": config["CONNECTION_LIMIT"],
        "channel_timeout": config["CHANNEL_TIMEOUT"],
        "max_request_body_size": config["MAX_CONTENT_LENGTH"] + 1,
        "ident": "captcha-ocr",
    }


def serve(app):
    """Serve ``app`` until interrupted, on the host and port of its config.

    SIGTERM (systemd, Docker, Kubernetes) is treated as SIGINT (PM2): waitress stops taking
    connections and lets the requests in flight finish, instead of the process ending at once.
    SIGINT's handler is set too: a process started from a background job or under nohup inherits
    SIGINT ignored, and Python then leaves it ignored, so PM2's stop would wait for its SIGKILL.
    """
    warn_if_open_to_the_network(app.logger, app.config["HOST"], api_keys(app))
    warn_if_no_proxy_in_front(app.logger, app.config)
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, signal.default_int_handler)
    try:
        server = JsonErrorServer(TrimFreedHeap(app), **waitress_settings(app.config))
    except OSError as error:  # the port is taken, or the host is not this machine's: one line, not a traceback
        print(
            f"captcha-ocr: cannot listen on {app.config['HOST']}:{app.config['PORT']}: {error.strerror}",
            file=sys.stderr,
            flush=True,
        )
        # At once: a normal exit tears onnxruntime down under the thread still loading the model,
        # and the process aborts (status 134). 2, as for any setting to fix (here HOST or PORT).
        os._exit(2)
    server.flask_app = app
    # Printed, not waitress's print_listen: that logs at INFO, which no handler shows. Flushed: under
    # PM2 stdout is a pipe, and the line should come now, not when the buffer fills.
    print(
        f"captcha-ocr: listening on http://{server.effective_host}:{server.effective_port} "
        f"({read_slots(app.config)} read slots, "
        f"OCR_MODEL {app.config['OCR_MODEL']}, MIN_CONFIDENCE {app.config['MIN_CONFIDENCE']})",
        flush=True,
    )
    try:
        server.run()
    finally:
        solver_protocols.shutdown(app)


def main():
    """``python wsgi.py`` and ``captcha-ocr serve``: the app from the environment's settings, served until stopped.

    A setting that cannot be used stops the start-up with one line naming it, and exit status 2.
    """
    from .. import create_app  # here: create_app's module imports this one's package

    limit_malloc_arenas()  # first: onnxruntime starts its threads when create_app loads the model
    try:
        app = create_app(load_model_in_background=True)
    except ValueError as error:
        print(f"captcha-ocr: {error}", file=sys.stderr)
        sys.exit(2)  # not 1: PM2 and operators should see a setting to fix, not a crash
    serve(app)

"""The solving services' protocols on our engine, so bots switch with a host change.

2captcha's legacy ``in.php``/``res.php`` (``twocaptcha``) and the ``createTask`` JSON API of
2captcha v2, anti-captcha and CapSolver (``createtask``). Both read with the same engine, limits,
keys, metrics and request log as ``POST /ocr``, and keep their tasks in one bounded store: this
process's memory, or with ``REDIS_URL`` Redis, shared by every process that names it.
"""

import json
import time

from werkzeug.exceptions import HTTPException

from . import createtask, twocaptcha
from .callbacks import CALLBACKS_EXTENSION, Callbacks
from .errors import SolverError
from .redis_tasks import RedisTaskStore
from .tasks import TASKS_EXTENSION, TaskStore
from .upstream import UPSTREAM_EXTENSION, Upstream


def init_app(app, shared=None):
    """The task store (in Redis when ``shared``, REDIS_URL's client, is given), the upstream solver when
    ``UPSTREAM_SOLVER`` names one, and both protocols' routes."""
    config = app.config
    if shared is not None:
        store = RedisTaskStore(shared, config["TASK_STORE_SIZE"], config["TASK_TTL_SECONDS"], time.time)
    else:
        store = TaskStore(config["TASK_STORE_SIZE"], config["TASK_TTL_SECONDS"])
    app.extensions[TASKS_EXTENSION] = store
    callbacks = app.extensions[CALLBACKS_EXTENSION] = Callbacks(config["CALLBACK_HOSTS"])
    if config["UPSTREAM_SOLVER"]:
        app.extensions[UPSTREAM_EXTENSION] = Upstream(
            config["UPSTREAM_SOLVER"],
            config["UPSTREAM_SOLVER_KEY"],
            config["UPSTREAM_CONCURRENCY"],
            config["UPSTREAM_TIMEOUT_SECONDS"],
            store,
            callbacks,
        )
    app.register_blueprint(twocaptcha.bp)
    app.register_blueprint(createtask.bp)


def shutdown(app):
    """End the upstream exchanges under way and the callbacks waiting, so that a stopping server is not held by them."""
    upstream = app.extensions.get(UPSTREAM_EXTENSION)
    if upstream is not None:
        upstream.close()
    app.extensions[CALLBACKS_EXTENSION].close()


def too_big_answer(app, path, query):
    """(content type, body) of a protocol's "too big" for a request to ``path`` whose body the server refused
    before the app saw it (waitress' limit); None for a path that is no protocol's. Clients read only their
    protocol's answers: an HTTP 413 of ours made python-anticaptcha fail with KeyError 'taskId'."""
    try:
        endpoint, _ = app.url_map.bind("").match(path, "POST")
    except HTTPException:  # not found, a redirect, or a 405: no protocol's route
        return None
    error = SolverError(
        "ERROR_TOO_BIG_CAPTCHA_FILESIZE", f"the request is larger than {app.config['MAX_CONTENT_LENGTH']} bytes"
    )
    if endpoint.startswith(f"{createtask.bp.name}."):
        return "application/json", json.dumps(createtask.error_body(error))
    if endpoint.startswith(f"{twocaptcha.bp.name}."):
        if "json=1" in query.split("&"):
            return "application/json", json.dumps(twocaptcha.json_body(error.code, ok=False))
        return "text/plain; charset=utf-8", error.code
    return None

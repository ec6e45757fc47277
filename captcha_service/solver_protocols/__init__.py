"""The solving services' protocols on our engine, so bots switch with a host change.

2captcha's legacy ``in.php``/``res.php`` (``twocaptcha``) and the ``createTask`` JSON API of
2captcha v2, anti-captcha and CapSolver (``createtask``). Both read with the same engine, limits,
keys, metrics and request log as ``POST /ocr``, and keep their tasks in one bounded store.
"""

from . import createtask, twocaptcha
from .tasks import TASKS_EXTENSION, TaskStore
from .upstream import UPSTREAM_EXTENSION, Upstream


def init_app(app):
    """The task store, the upstream solver when ``UPSTREAM_SOLVER`` names one, and both protocols' routes."""
    config = app.config
    store = app.extensions[TASKS_EXTENSION] = TaskStore(config["TASK_STORE_SIZE"], config["TASK_TTL_SECONDS"])
    if config["UPSTREAM_SOLVER"]:
        app.extensions[UPSTREAM_EXTENSION] = Upstream(
            config["UPSTREAM_SOLVER"], config["UPSTREAM_SOLVER_KEY"], config["UPSTREAM_CONCURRENCY"], config["UPSTREAM_TIMEOUT_SECONDS"], store,
        )
    app.register_blueprint(twocaptcha.bp)
    app.register_blueprint(createtask.bp)


def shutdown(app):
    """End the upstream exchanges under way (their tasks unsolvable), so that a stopping server is not held by them."""
    upstream = app.extensions.get(UPSTREAM_EXTENSION)
    if upstream is not None:
        upstream.close()

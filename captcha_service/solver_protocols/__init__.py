"""The solving services' protocols on our engine, so bots switch with a host change.

2captcha's legacy ``in.php``/``res.php`` (``twocaptcha``) and the ``createTask`` JSON API of
2captcha v2, anti-captcha and CapSolver (``createtask``). Both read with the same engine, limits,
keys, metrics and request log as ``POST /ocr``, and keep their tasks in one bounded store.
"""

from . import createtask, twocaptcha
from .tasks import TASKS_EXTENSION, TaskStore


def init_app(app):
    app.extensions[TASKS_EXTENSION] = TaskStore(app.config["TASK_STORE_SIZE"], app.config["TASK_TTL_SECONDS"])
    app.register_blueprint(twocaptcha.bp)
    app.register_blueprint(createtask.bp)

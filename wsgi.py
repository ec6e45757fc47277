"""Serve CaptchaOCR with waitress: ``python wsgi.py``. This is what PM2 runs.

Settings come from the environment (HOST, PORT, THREADS, ...): see captcha_service/config.py.
"""

from captcha_service import create_app
from captcha_service.memory import limit_malloc_arenas
from captcha_service.serving import serve

if __name__ == "__main__":
    limit_malloc_arenas()  # first: onnxruntime starts its threads when create_app loads the model
    serve(create_app(load_model_in_background=True))

"""Serve CaptchaOCR with waitress: ``python wsgi.py``. This is what PM2 runs.

Settings come from the environment (HOST, PORT, THREADS, ...): see captcha_service/config.py.
A setting that cannot be used stops the start-up with one line naming it, and exit status 2.
"""

import sys

from captcha_service import create_app
from captcha_service.memory import limit_malloc_arenas
from captcha_service.serving import serve

if __name__ == "__main__":
    limit_malloc_arenas()  # first: onnxruntime starts its threads when create_app loads the model
    try:
        app = create_app(load_model_in_background=True)
    except ValueError as error:
        print(f"captcha-ocr: {error}", file=sys.stderr)
        sys.exit(2)  # not 1: PM2 and operators should see a setting to fix, not a crash
    serve(app)

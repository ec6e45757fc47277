"""Serve CaptchaOCR with waitress: ``python wsgi.py`` (what PM2 runs), or ``captcha-ocr serve`` once installed.

Settings come from the environment (HOST, PORT, THREADS, ...): see captcha_service/config.py.
A setting that cannot be used stops the start-up with one line naming it, and exit status 2.
"""

from captcha_service.api.serving import main

if __name__ == "__main__":
    main()

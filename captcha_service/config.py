"""Configuration defaults, and the one place that reads them from the environment."""


class Config:
    """Defaults; every name here can be overridden by an environment variable of the same name."""

    HOST = "127.0.0.1"
    PORT = 8000
    THREADS = 8
    CONNECTION_LIMIT = 100
    CHANNEL_TIMEOUT = 30
    READ_SLOTS = 0
    READ_WAIT_SECONDS = 2.0
    API_KEYS = ""
    MAX_CONTENT_LENGTH = 2 * 1024 * 1024
    MAX_IMAGE_BYTES = 1024 * 1024
    MAX_IMAGE_PIXELS = 4_000_000
    MAX_ASPECT_RATIO = 16.0
    MAX_FRAMES = 64
    OCR_MODEL = "common"
    OCR_DIGITS = 4
    MIN_CONFIDENCE = 0.9
    ORT_LOGGING_LEVEL = 3


def settings_from_environment(environ):
    """Return the settings that ``environ`` overrides, converted to the type of their default.

    A value that does not convert raises ``ValueError`` naming the variable, so a typo in a
    deployment stops the start-up instead of running with a surprise.
    """
    settings = {}
    for name, default in vars(Config).items():
        if not name.isupper() or name not in environ:
            continue
        value = environ[name]
        try:
            settings[name] = type(default)(value)
        except ValueError:
            raise ValueError(
                f"environment variable {name}={value!r} is not a valid {type(default).__name__}"
            ) from None
    return settings

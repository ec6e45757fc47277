"""Configuration defaults, and the one place that reads them from the environment."""

import os

from .ocr.asks import LEAST_CONFIDENCE, LONGEST, MOST_CONFIDENCE, SHORTEST
from .ocr.images import ImageLimits


class Config:
    """Defaults; every name here can be overridden by an environment variable of the same name."""

    HOST = "127.0.0.1"
    PORT = 8000
    THREADS = 64
    CONNECTION_LIMIT = 64
    CHANNEL_TIMEOUT = 30
    READ_SLOTS = 0
    READ_WAIT_SECONDS = 1.0
    API_KEYS = ""
    API_KEYS_FILE = ""
    TRUSTED_PROXY = ""
    CORS_ORIGINS = ""
    MAX_CONTENT_LENGTH = 2 * 1024 * 1024
    MAX_FORM_MEMORY_SIZE = MAX_CONTENT_LENGTH  # 2captcha's in.php sends the base64 image as a form field
    MAX_IMAGE_BYTES = ImageLimits.max_bytes
    MAX_IMAGE_PIXELS = ImageLimits.max_pixels
    MAX_ASPECT_RATIO = ImageLimits.max_aspect_ratio
    MAX_FRAMES = ImageLimits.max_frames
    MAX_DECODED_PIXELS = ImageLimits.max_decoded_pixels
    MAX_JPEG_SCANS = ImageLimits.max_jpeg_scans
    TASK_STORE_SIZE = 10_000
    TASK_TTL_SECONDS = 600
    REDIS_URL = ""
    KEY_RATE = 0
    KEY_CONCURRENCY = 0
    UPSTREAM_SOLVER = ""
    UPSTREAM_SOLVER_KEY = ""
    UPSTREAM_CONCURRENCY = 8
    UPSTREAM_TIMEOUT_SECONDS = 60.0
    CALLBACK_HOSTS = "127.0.0.1,localhost,::1"
    MODELS_DIR = "models"
    SITE_MODELS_LOADED = 8
    SAMPLES_DIR = ""
    SAMPLES_KEPT = 1000
    SAMPLES_KEPT_SECONDS = 600
    SAMPLES_KEPT_BYTES = 64 * 1024 * 1024
    SAMPLES_MAX_BYTES = 512 * 1024 * 1024
    OCR_MODEL = "digits+common"
    OCR_DIGITS = 4
    MIN_CONFIDENCE = 0.9
    ORT_LOGGING_LEVEL = 3
    LOG_LEVEL = "INFO"
    ORT_INTRA_OP_THREADS = 0


# The range of each numeric setting (inclusive): a value outside it stops the start-up, naming the
# variable, instead of failing on the first request (a store of -1 tasks) or aborting the process.
RANGES = {
    "PORT": (0, 65535),
    "THREADS": (1, 1024),
    "CONNECTION_LIMIT": (1, 100_000),
    "CHANNEL_TIMEOUT": (1, 86_400),
    "READ_SLOTS": (0, 1024),
    "READ_WAIT_SECONDS": (0.0, 3600.0),
    "MAX_CONTENT_LENGTH": (1024, 1024**3),
    "MAX_FORM_MEMORY_SIZE": (1024, 1024**3),
    "MAX_IMAGE_BYTES": (1024, 1024**3),
    "MAX_IMAGE_PIXELS": (1, 10**9),
    "MAX_ASPECT_RATIO": (1.0, 10_000.0),
    "MAX_FRAMES": (1, 10_000),
    "MAX_DECODED_PIXELS": (1, 10**10),
    "MAX_JPEG_SCANS": (1, 10_000),
    "TASK_STORE_SIZE": (1, 10**7),
    "TASK_TTL_SECONDS": (1, 7 * 86_400),
    "UPSTREAM_CONCURRENCY": (1, 1024),
    "UPSTREAM_TIMEOUT_SECONDS": (1.0, 3600.0),
    "SITE_MODELS_LOADED": (1, 1024),
    "KEY_RATE": (0, 10**6),
    "KEY_CONCURRENCY": (0, 10**6),
    "SAMPLES_KEPT": (0, 10**7),
    "SAMPLES_KEPT_SECONDS": (0, 7 * 86_400),
    "SAMPLES_KEPT_BYTES": (0, 64 * 1024**3),
    "SAMPLES_MAX_BYTES": (0, 1024**5),
    "OCR_DIGITS": (SHORTEST, LONGEST),
    "MIN_CONFIDENCE": (LEAST_CONFIDENCE, MOST_CONFIDENCE),
    "ORT_LOGGING_LEVEL": (0, 4),
    "ORT_INTRA_OP_THREADS": (0, 1024),
}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def defaults():
    """The defaults as a mapping, as ``app.config`` holds them."""
    return {name: value for name, value in vars(Config).items() if name.isupper()}


def load_config(environ):
    """The settings: the defaults, overridden by ``environ`` (for the app and the CLI alike)."""
    return defaults() | settings_from_environment(environ)


def check_settings(config):
    """Refuse, naming the variable, a setting of the wrong type or outside its range (``RANGES``)."""
    for name, default in defaults().items():
        value = config[name]
        if type(value) is not type(default) and not (type(default) is float and type(value) is int):
            raise ValueError(f"setting {name}={value!r} is not a valid {type(default).__name__}")
    for name, (low, high) in RANGES.items():
        if not low <= config[name] <= high:  # NaN fails too
            raise ValueError(f"setting {name}={config[name]!r} is out of range: it must be from {low} to {high}")
    if config["LOG_LEVEL"].upper() not in LOG_LEVELS:
        raise ValueError(f"setting LOG_LEVEL={config['LOG_LEVEL']!r} must be one of {', '.join(LOG_LEVELS)}")


def read_slots(config):
    """Reads at once: ``READ_SLOTS``, or 0 for one per core (most reads run our one-threaded model alone)."""
    return config["READ_SLOTS"] or (os.cpu_count() or 1)


BOOLEANS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def _boolean(text):
    """A boolean setting's text: bool("false") is True, so the words are read, and anything else is refused."""
    try:
        return BOOLEANS[text.strip().lower()]
    except KeyError:
        raise ValueError(text) from None


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
            settings[name] = _boolean(value) if type(default) is bool else type(default)(value)
        except ValueError:
            raise ValueError(f"environment variable {name}={value!r} is not a valid {type(default).__name__}") from None
    return settings

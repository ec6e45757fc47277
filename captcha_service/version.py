"""The service's version: one place, read by the package metadata, GET /, /metrics and the API docs."""

__version__ = "1.8.3"

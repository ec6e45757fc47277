"""Rendering captchas and training our digit model. Not imported by the service."""

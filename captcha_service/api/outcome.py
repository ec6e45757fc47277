"""What became of the current request, noted where it is known; read by the log and the metrics."""

from dataclasses import dataclass

from flask import g


@dataclass
class Outcome:
    """Request-scoped: the reading (or what was read before a refusal), which models decided it, the refusal's
    reason, the time reading."""

    digits: str | None = None
    decided_by: str | None = None  # the name of the way of reading that decided (DecidedBy.name)
    confidence: float | None = None
    reason: str | None = None
    reading_seconds: float | None = None


def current_outcome():
    if "outcome" not in g:
        g.outcome = Outcome()
    return g.outcome


def note_refusal(reason, digits=None, confidence=None):
    outcome = current_outcome()
    outcome.reason, outcome.digits, outcome.confidence = reason, digits, confidence

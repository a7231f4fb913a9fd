"""Errors of the streams context. `retriable` says whether waiting and trying again can help."""

from __future__ import annotations


class StreamsError(Exception):
    """Root of the streams context's errors."""

    retriable = False

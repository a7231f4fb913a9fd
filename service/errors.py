"""Errors of the application layer. `retriable` says whether waiting and trying again can help."""

from __future__ import annotations


class ServiceError(Exception):
    """Root of the application layer's errors."""

    retriable = False


class InvalidRequestError(ServiceError):
    """A request a use case refuses whatever the channel (HTTP or Kafka): names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ItemNotFoundError(ServiceError):
    """No stored item has this id."""

    def __init__(self, item_id: str) -> None:
        super().__init__(f"no stored item {item_id}")
        self.item_id = item_id

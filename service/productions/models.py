"""Requests and errors of the productions use case."""

from __future__ import annotations

from dataclasses import dataclass

from service.errors import ServiceError
from storage.models import ProductionStatus


@dataclass(frozen=True, slots=True)
class ProductionRequest:
    """A legal production of every item a hold covers.

    Attributes:
        hold_id: The hold whose items are produced.
        requested_by: The principal asking (recorded and audited).
    """

    hold_id: str
    requested_by: str


class ProductionError(ServiceError):
    """Root of the productions use case's errors."""


class ProductionNotFoundError(ProductionError):
    """No production has this id."""

    def __init__(self, production_id: str) -> None:
        super().__init__(f"no production {production_id}")
        self.production_id = production_id


class ProductionNotReadyError(ProductionError):
    """The production cannot be downloaded: it is still being built, or it failed."""

    def __init__(self, production_id: str, status: ProductionStatus) -> None:
        super().__init__(f"production {production_id} is {status.value}, not ready")
        self.production_id = production_id
        self.status = status


class ProductionContentError(ProductionError):
    """An item's content read back for a production is not what the catalog recorded."""

    def __init__(self, item_id: str) -> None:
        super().__init__(f"item {item_id}: content differs from the catalog's digest")
        self.item_id = item_id


class ClaimLostError(ProductionError):
    """Another builder took the production over (this one was too slow to renew its claim)."""

    retriable = True

    def __init__(self, production_id: str) -> None:
        super().__init__(f"production {production_id} was claimed by another builder")
        self.production_id = production_id

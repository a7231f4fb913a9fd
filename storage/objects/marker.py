"""The bucket's marker object: which catalog's items the bucket holds.

Start-up writes it into a bucket that has none and refuses a bucket whose marker names
another catalog; `keepline reconcile` refuses to remove anything from such a bucket. It lives
outside the items' prefix, so no listing of items sees it, and holds no personal data.
"""

from __future__ import annotations

import io
import json

from storage.errors import BucketClaimedError, ObjectNotFoundError
from storage.ports import ObjectStore

#: Where the marker lives (outside `items/`).
MARKER_KEY = "keepline/catalog-instance.json"
MARKER_FORMAT = "keepline-bucket-marker/1"
_MAX_MARKER_BYTES = 4096


def read_marker(store: ObjectStore) -> str | None:
    """The catalog instance the bucket's marker names, or None without a (readable) marker."""
    try:
        data = b"".join(store.get_range(MARKER_KEY, None, offset=0, length=_MAX_MARKER_BYTES))
    except ObjectNotFoundError:
        return None
    try:
        doc = json.loads(data)
    except ValueError:
        return None
    if not isinstance(doc, dict) or doc.get("format") != MARKER_FORMAT:
        return None
    instance = doc.get("catalog_instance")
    return instance if isinstance(instance, str) else None


def write_marker(store: ObjectStore, catalog_instance: str) -> None:
    """Mark the bucket as holding this catalog's items."""
    body = json.dumps({"format": MARKER_FORMAT, "catalog_instance": catalog_instance}).encode()
    store.put_stream(MARKER_KEY, io.BytesIO(body), content_type="application/json", tags={})


def bind_bucket(store: ObjectStore, catalog_instance: str) -> None:
    """Mark an unmarked bucket as this catalog's; refuse one another catalog marked (blocking).

    Raises:
        BucketClaimedError: The marker names another catalog.
    """
    found = read_marker(store)
    if found is None:
        write_marker(store, catalog_instance)
    elif found != catalog_instance:
        raise BucketClaimedError(bucket_instance=found, catalog_instance=catalog_instance)

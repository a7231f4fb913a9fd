"""Log set-up of the `keepline` command: readable lines or one JSON object per line."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from keepline.settings import LogFormat

# Record attributes copied into a JSON line when a caller passed them (``extra=``): ids only,
# never a subject id, an address, a token or key material.
_ID_FIELDS = ("item_id", "event_id")
_NOISY = ("aiokafka", "faust", "mode", "kafka", "alembic")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: at, level, logger, message, and the known ids."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON (a traceback, if any, in ``exception``)."""
        line: dict[str, object] = {
            "at": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _ID_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = str(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, separators=(",", ":"))


def configure_logging(*, verbose: bool, log_format: LogFormat) -> None:
    """Send every record to standard error in ``log_format``."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format is LogFormat.JSON:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, handlers=[handler])
    # The Kafka client is chatty at INFO about every (re)connection; Alembic about every
    # start-up (storage logs a schema upgrade itself).
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The S3 client's own retries warn per attempt; keepline logs each retry it makes once.
    logging.getLogger("urllib3").setLevel(logging.ERROR)

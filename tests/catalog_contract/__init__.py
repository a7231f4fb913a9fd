"""The catalog's contract: one suite per SQL adapter, run on SQLite and on PostgreSQL.

Test modules subclass the contracts and provide a `db` fixture: a `storage.sql.database.Database`
on a fresh, empty catalog whose schema is at the newest revision. The contracts cover the
item catalog (`catalog.py`), legal holds (`holds.py`), data subjects (`subjects.py`), the
audit chain (`audit_log.py`), leases (`leases.py`), policy versions (`policy_versions.py`)
and the schema migrations (`migrations.py`, which also needs a `fresh_url` factory).
"""

from tests.catalog_contract.audit_checkpoints import AuditCheckpointsContract
from tests.catalog_contract.audit_log import AuditLogContract
from tests.catalog_contract.catalog import CatalogContract
from tests.catalog_contract.disclosures import DisclosureRegisterContract
from tests.catalog_contract.holds import HoldStoreContract
from tests.catalog_contract.leases import LeasesContract
from tests.catalog_contract.migrations import MigrationsContract
from tests.catalog_contract.policy_versions import PolicyStoreContract
from tests.catalog_contract.scans import CatalogScansContract
from tests.catalog_contract.subjects import SubjectStoreContract
from tests.catalog_contract.units_of_work import UnitOfWorkContract

__all__ = [
    "AuditCheckpointsContract",
    "AuditLogContract",
    "CatalogContract",
    "CatalogScansContract",
    "DisclosureRegisterContract",
    "HoldStoreContract",
    "LeasesContract",
    "MigrationsContract",
    "PolicyStoreContract",
    "SubjectStoreContract",
    "UnitOfWorkContract",
]

"""The composition root: every service of keepline, built from settings once per process.

`keepline serve`, the API it runs, the stream worker and every CLI command get their
collaborators here and nowhere else, so a rule that needs a collaborator (the audit of a
policy activation, the sweeper's lock) is wired the same way wherever it runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from api.auth import build_authenticator
from api.services import ApiServices
from api.settings import ApiSettings
from policies.models import Policy
from policies.policy_file import load_default_policy, load_policy
from policies.settings import PolicySettings
from service.disclosures.service import DisclosureService
from service.disposals.service import DisposalService
from service.fixity.service import FixityService
from service.fixity.settings import FixitySettings
from service.holds.service import HoldsService
from service.ingest.service import IngestService
from service.notices.service import NoticeService
from service.policy.service import PolicyService
from service.productions.service import ProductionService
from service.retention.destruction import ItemDestroyer
from service.retention.explain import RetentionExplainer
from service.retention.locks import ObjectLockSync
from service.retention.reviews import ReviewService
from service.retention.service import AfterSweep, Sweeper
from service.subjects.access_report import AccessReporter
from service.subjects.rectification import RectificationService
from service.subjects.service import SubjectRightsService
from storage.runtime import StorageRuntime, build_storage, prepare_storage
from storage.settings import StorageSettings
from storage.sql.disclosures import SqlDisclosureRegister
from storage.sql.fixity import SqlFixityLog
from storage.sql.holds import SqlHoldStore
from storage.sql.leases import SqlLeases
from storage.sql.notices import SqlNotices
from storage.sql.productions import SqlProductionStore
from storage.sql.reviews import SqlReviewStore
from storage.sql.subjects import SqlSubjectStore
from storage.sql.tombstones import SqlTombstones
from streams.fetch import ContentFetcher
from streams.kafka_publisher import AiokafkaEventPublisher
from streams.settings import StreamSettings


def now() -> datetime:
    """The one wall clock of keepline (timezone-aware, UTC)."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Keepline:
    """The adapters and the use cases over them, for one process."""

    storage: StorageRuntime
    subjects: SqlSubjectStore
    holds_store: SqlHoldStore
    leases: SqlLeases
    lock_sync: ObjectLockSync
    destroyer: ItemDestroyer
    rights: SubjectRightsService
    holds: HoldsService
    policy: PolicyService
    clock: Callable[[], datetime]
    reviews_store: SqlReviewStore
    explainer: RetentionExplainer
    reviews: ReviewService
    disposals: DisposalService
    disclosures: DisclosureService
    rectification: RectificationService
    access_report: AccessReporter
    notices: SqlNotices
    productions: ProductionService | None = None

    def ingest(self, settings: StreamSettings) -> IngestService:
        """The ingest use case, fetching content only from the sources the settings allow."""
        fetcher = ContentFetcher.from_settings(
            settings,
            s3_endpoint=self.storage.settings.s3_endpoint,
            own_bucket=self.storage.settings.s3_bucket,
            s3_region=self.storage.settings.s3_region,
        )
        return IngestService(
            catalog=self.storage.catalog,
            subjects=self.subjects,
            policies=self.storage.policies,
            vault=self.storage.vault,
            fetcher=fetcher,
            lock_sync=self.lock_sync,
            clock=self.clock,
            uploads=settings.concurrency,
            max_batch=settings.max_batch,
            after_stored=self.rights.erase_on_arrival,
            lock_at_upload=self.storage.settings.object_lock_mode == "GOVERNANCE",
        )

    def sweeper(self, *, actor: str = "sweeper", after_sweep: AfterSweep | None = None) -> Sweeper:
        """A sweeper over this process's adapters (deferred erasures run after each pass)."""
        return Sweeper(
            catalog=self.storage.catalog,
            holds=self.holds_store,
            policies=self.storage.policies,
            destroyer=self.destroyer,
            lock_sync=self.lock_sync,
            store=self.storage.store,
            audit=self.storage.audit,
            clock=self.clock,
            after_sweep=after_sweep or self.rights.run_deferred_erasures,
            compliance_lock=self.storage.settings.object_lock_mode == "COMPLIANCE",
            actor=actor,
            reviews=self.reviews_store,
            explainer=self.explainer,
        )

    async def prepare(self, policy: Policy) -> None:
        """Upgrade the catalog, ensure the bucket, and activate the configured policy.

        A policy file that differs from the active version becomes a new version, audited
        as every policy change is, whichever command or process finds it first.
        """
        await prepare_storage(self.storage)
        await self.activate_configured(policy)

    async def activate_configured(self, policy: Policy) -> None:
        """Activate the configured policy if it differs from the active one (audited)."""
        await self.storage.policies.bootstrap(policy, at=self.clock(), audit=self.storage.audit)

    async def close(self) -> None:
        """Stop the background hold flag tasks, then release the database connections.

        Flags a stopped task left unset are the sweeper's repair pass's to set.
        """
        await self.holds.aclose()
        await self.storage.close()

    def fixity(self, settings: FixitySettings | None = None) -> FixityService:
        """The integrity passes over this process's adapters, paced as the settings say."""
        cfg = settings or FixitySettings()
        return FixityService(
            catalog=self.storage.catalog,
            store=self.storage.store,
            vault=self.storage.vault,
            policies=self.storage.policies,
            passes=SqlFixityLog(self.storage.db),
            audit=self.storage.audit,
            clock=self.clock,
            max_bytes_s=cfg.fixity_max_bytes_s,
        )


def api_services(
    root: Keepline,
    settings: ApiSettings,
    *,
    stream_settings: StreamSettings,
    registry: CollectorRegistry,
    extra_readiness: tuple[Callable[[], Awaitable[str | None]], ...] = (),
    reader_roles: frozenset[str] = frozenset(),
) -> ApiServices:
    """The API's collaborators over this process's services (no I/O yet).

    The caller stops `publisher` when done; `root.close()` closes the rest.

    Raises:
        ConfigurationError: Tokens or OIDC settings that cannot be used.
    """
    return ApiServices(
        settings=settings,
        storage=root.storage,
        holds=root.holds,
        rights=root.rights,
        policy=root.policy,
        publisher=AiokafkaEventPublisher(
            stream_settings.kafka_bootstrap,
            client_id="keepline-api",
            security=stream_settings.kafka_security(),
        ),
        authenticator=build_authenticator(settings, reader_roles=reader_roles),
        registry=registry,
        clock=root.clock,
        topics={
            "calls": stream_settings.topic_calls,
            "emails": stream_settings.topic_emails,
            "chats": stream_settings.topic_chats,
        },
        extra_readiness=extra_readiness,
        retention=root.explainer,
        reviews=root.reviews,
        productions=root.productions,
        disposals=root.disposals,
        fixity=root.fixity(),
        disclosures=root.disclosures,
        rectification=root.rectification,
        access_report=root.access_report,
    )


def configured_policy(settings: PolicySettings | None = None) -> Policy:
    """The policy file the settings name, or the example policy shipped with keepline.

    Raises:
        PolicyError: The file cannot be read, parsed or validated.
    """
    cfg = settings or PolicySettings()
    return load_policy(cfg.policy_file) if cfg.policy_file else load_default_policy()


def build(
    storage_settings: StorageSettings | None = None, *, clock: Callable[[], datetime] = now
) -> Keepline:
    """Every adapter and use case, wired (no I/O yet)."""
    storage = build_storage(storage_settings or StorageSettings())
    lock_sync = ObjectLockSync(storage.catalog, storage.store)
    destroyer = ItemDestroyer(storage.catalog, storage.store, storage.audit, storage.guards)
    holds_store = SqlHoldStore(storage.db)
    subjects = SqlSubjectStore(storage.db)
    disclosures = DisclosureService(
        register=SqlDisclosureRegister(storage.db),
        catalog=storage.catalog,
        holds=holds_store,
        audit=storage.audit,
        clock=clock,
    )
    outbox = SqlNotices(storage.db)
    notices = NoticeService(outbox=outbox, clock=clock)
    rights = SubjectRightsService(
        catalog=storage.catalog,
        subjects=subjects,
        policies=storage.policies,
        audit=storage.audit,
        destroyer=destroyer,
        lock_sync=lock_sync,
        store=storage.store,
        clock=clock,
        guards=storage.guards,
        notices=notices,
        disclosures=disclosures,
    )
    holds = HoldsService(
        holds=holds_store,
        catalog=storage.catalog,
        lock_sync=lock_sync,
        audit=storage.audit,
        after_release=rights.run_deferred_erasures,
    )
    reviews_store = SqlReviewStore(storage.db)
    return Keepline(
        storage=storage,
        subjects=subjects,
        holds_store=holds_store,
        leases=SqlLeases(storage.db),
        lock_sync=lock_sync,
        destroyer=destroyer,
        rights=rights,
        holds=holds,
        policy=PolicyService(
            catalog=storage.catalog,
            policies=storage.policies,
            subjects=subjects,
            audit=storage.audit,
            lock_sync=lock_sync,
            store=storage.store,
            clock=clock,
        ),
        clock=clock,
        reviews_store=reviews_store,
        explainer=RetentionExplainer(
            catalog=storage.catalog,
            holds=holds_store,
            policies=storage.policies,
            records=subjects,
            reviews=reviews_store,
            clock=clock,
            compliance_lock=storage.settings.object_lock_mode == "COMPLIANCE",
        ),
        reviews=ReviewService(
            reviews=reviews_store,
            catalog=storage.catalog,
            lock_sync=lock_sync,
            audit=storage.audit,
            clock=clock,
        ),
        productions=ProductionService(
            productions=SqlProductionStore(storage.db),
            catalog=storage.catalog,
            vault=storage.vault,
            signer=storage.signer,
            audit=storage.audit,
            clock=clock,
        ),
        disposals=DisposalService(
            tombstones=SqlTombstones(storage.db),
            audit=storage.audit,
            signer=storage.signer,
            clock=clock,
        ),
        disclosures=disclosures,
        rectification=RectificationService(
            catalog=storage.catalog,
            subjects=subjects,
            policies=storage.policies,
            audit=storage.audit,
            lock_sync=lock_sync,
            store=storage.store,
            disclosures=disclosures,
            clock=clock,
            notices=notices,
        ),
        access_report=AccessReporter(
            items_of=rights.items_of,
            subjects=subjects,
            policies=storage.policies,
            disclosures=disclosures,
            audit=storage.audit,
            clock=clock,
        ),
        notices=outbox,
    )

"""AccessReporter: what an answer to a subject access request (GDPR Art. 15) must say.

Beside the copy of the data (the export), the subject is owed the details: for each kind of
item held, the purposes with their lawful basis and retention period, where the items came
from (the publishing systems), who received them (the disclosure register), and the
restriction and objections in force. The report is built from the subject's own items only:
no other party's address, id or name appears in it. It is served as JSON and written, as a
readable text document beside ``items.json``, into the export.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from policies.models import Policy
from service.disclosures.models import disclosure_json
from service.disclosures.service import DisclosureService
from storage.models import ALL_PURPOSES, DisclosureRecord, ItemRecord, SubjectState
from storage.ports import AuditLog, PolicyStore, SubjectStore

#: The ``format`` of the JSON report.
REPORT_FORMAT = "keepline.access-report/1"

ItemsOf = Callable[[str], Awaitable[list[ItemRecord]]]


@dataclass(frozen=True, slots=True)
class PurposeLine:
    """One purpose the subject's items of a type are kept for."""

    name: str
    basis: str
    retention: str | None
    items: int
    last_expires_at: datetime

    def as_record(self) -> dict[str, Any]:
        """``{"name", "basis", "retention", "items", "last_expires_at"}``."""
        return {
            "name": self.name,
            "basis": self.basis,
            "retention": self.retention,
            "items": self.items,
            "last_expires_at": self.last_expires_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class TypeSection:
    """The subject's items of one type."""

    type: str
    item_ids: tuple[str, ...]
    purposes: tuple[PurposeLine, ...]
    sources: tuple[str, ...]
    held: int

    def as_record(self) -> dict[str, Any]:
        """The section as JSON values."""
        return {
            "type": self.type,
            "items": len(self.item_ids),
            "item_ids": list(self.item_ids),
            "purposes": [p.as_record() for p in self.purposes],
            "sources": list(self.sources),
            "items_under_legal_hold": self.held,
        }


@dataclass(frozen=True, slots=True)
class AccessReport:
    """Everything the report says about one subject."""

    subject_id: str
    generated_at: datetime
    sections: tuple[TypeSection, ...]
    recipients: tuple[DisclosureRecord, ...]
    state: SubjectState

    def as_record(self) -> dict[str, Any]:
        """The report document (``keepline.access-report/1``), as exports and the API hold it."""
        objections = sorted(self.state.objections)
        return {
            "format": REPORT_FORMAT,
            "subject_id": self.subject_id,
            "generated_at": self.generated_at.isoformat(),
            "items_by_type": [s.as_record() for s in self.sections],
            "recipients": [disclosure_json(r) for r in self.recipients],
            "restricted": self.state.restricted,
            "objections": [
                "all legitimate-interests purposes" if o == ALL_PURPOSES else o for o in objections
            ],
            "consents": dict(sorted(self.state.consents.items())),
        }

    def to_text(self) -> str:
        """The report as a document a person reads."""
        lines = [
            "What we hold about you, and why",
            "=" * 31,
            "",
            f"Data subject: {self.subject_id}",
            f"Prepared: {self.generated_at.isoformat()}",
            "",
        ]
        if not self.sections:
            lines.append("We hold no communications in which you take part.")
        for section in self.sections:
            lines += [
                f"{_TYPE_NAMES.get(section.type, section.type)}: {len(section.item_ids)}",
                f"  Received from: {', '.join(section.sources)}",
                "  Kept for:",
            ]
            for p in section.purposes:
                period = f"for {p.retention} after the communication" if p.retention else ""
                lines.append(
                    f"    - {p.name} (lawful basis: {_BASES.get(p.basis, p.basis)}) {period}; "
                    f"{p.items} item(s), the last kept until {p.last_expires_at.date()}"
                )
            if not section.purposes:
                lines.append("    - no purpose: these items are due to be destroyed")
            if section.held:
                lines.append(
                    f"  {section.held} item(s) are kept under a legal hold until it is released."
                )
            lines.append("")
        lines.append("Recipients")
        if not self.recipients:
            lines.append("  We have disclosed none of these communications to anyone.")
        for r in self.recipients:
            lines.append(
                f"  - {r.recipient}, on {r.disclosed_at.date()} "
                f"({r.legal_basis}; reference {r.reference}): {len(r.item_ids)} item(s)"
            )
        lines += ["", "Your choices on file"]
        lines.append(
            "  Processing is restricted: only our legal and privacy teams can see these items."
            if self.state.restricted
            else "  Processing is not restricted."
        )
        objected = self.as_record()["objections"]
        lines.append(f"  Objections: {', '.join(objected) if objected else 'none'}")
        granted = sorted(p for p, on in self.state.consents.items() if on)
        withdrawn = sorted(p for p, on in self.state.consents.items() if not on)
        lines.append(f"  Consent given for: {', '.join(granted) or 'nothing'}")
        if withdrawn:
            lines.append(f"  Consent withdrawn for: {', '.join(withdrawn)}")
        return "\n".join(lines) + "\n"


_TYPE_NAMES = {"call_recording": "Call recordings", "email": "E-mails", "chat": "Chats"}
_BASES = {
    "consent": "your consent",
    "contract": "our contract with you",
    "legal_obligation": "a legal obligation",
    "vital_interests": "vital interests",
    "public_task": "a public task",
    "legitimate_interests": "our legitimate interests",
}


def build_sections(records: list[ItemRecord], policy: Policy) -> tuple[TypeSection, ...]:
    """The per-type sections of the report, from the subject's items."""
    by_type: dict[str, list[ItemRecord]] = {}
    for record in records:
        by_type.setdefault(record.type, []).append(record)
    sections = []
    for item_type in sorted(by_type):
        group = by_type[item_type]
        lines: dict[tuple[str, str], list[datetime]] = {}
        for record in group:
            for p in record.purposes:
                lines.setdefault((p.name, p.basis), []).append(p.expires_at)
        purposes = tuple(
            PurposeLine(
                name=name,
                basis=basis,
                retention=str(policy.purposes[name].retention) if name in policy.purposes else None,
                items=len(expiries),
                last_expires_at=max(expiries),
            )
            for (name, basis), expiries in sorted(lines.items())
        )
        sections.append(
            TypeSection(
                type=item_type,
                item_ids=tuple(sorted(r.item_id for r in group)),
                purposes=purposes,
                sources=tuple(sorted({r.source for r in group})),
                held=sum(1 for r in group if r.hold_ids),
            )
        )
    return tuple(sections)


class AccessReporter:
    """Builds a subject's access report from their items, choices and the register."""

    def __init__(
        self,
        *,
        items_of: ItemsOf,
        subjects: SubjectStore,
        policies: PolicyStore,
        disclosures: DisclosureService,
        audit: AuditLog,
        clock: Callable[[], datetime],
    ) -> None:
        self._items_of = items_of
        self._subjects = subjects
        self._policies = policies
        self._disclosures = disclosures
        self._audit = audit
        self._clock = clock

    async def build(self, subject_id: str) -> AccessReport:
        """The report as of now (not audited: the export that includes it is)."""
        records = await self._items_of(subject_id)
        policy = await self._policies.active()
        return AccessReport(
            subject_id=subject_id,
            generated_at=self._clock(),
            sections=build_sections(records, policy),
            recipients=tuple(await self._disclosures.listed(subject_id=subject_id)),
            state=await self._subjects.state(subject_id),
        )

    async def report(self, subject_id: str, *, actor: str) -> AccessReport:
        """The report, audited with the items it names."""
        report = await self.build(subject_id)
        await self._audit.append(
            actor=actor,
            action="access_report",
            at=report.generated_at,
            details={
                "subject_id": subject_id,
                "item_ids": sorted(i for s in report.sections for i in s.item_ids),
                "disclosures": [r.disclosure_id for r in report.recipients],
            },
        )
        return report

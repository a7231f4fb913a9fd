"""POST /v1/events: an ingest principal submits only for its own sources, and is named."""

from __future__ import annotations

from pathlib import Path

from tests.contract_examples import example
from tests.unit.api.conftest import api_settings, build_harness


async def test_a_principal_bound_to_its_sources_cannot_claim_another_systems_events(
    tmp_path: Path,
) -> None:
    settings = api_settings(ingest_sources="ingest-user=pbx-london-1|pbx-paris-1,other=*")
    harness = await build_harness(tmp_path, settings)
    try:
        own = example("call_recording") | {"source": "pbx-paris-1"}
        foreign = example("call_recording") | {"source": "crm-1", "event_id": "stolen"}
        async with harness.client("ingest") as http:
            accepted = await http.post("/v1/events", json=own)
            refused = await http.post("/v1/events", json=foreign)
        assert accepted.status_code == 202, accepted.text
        assert refused.status_code == 403
        assert "'crm-1'" in refused.json()["detail"]
        publisher = harness.app.state.services.publisher
        assert len(publisher.sent) == 1  # nothing of the refused event reached Kafka
        assert publisher.headers == [(("keepline-submitted-by", b"ingest-user"),)]
    finally:
        await harness.close()


async def test_without_a_mapping_every_ingest_principal_may_submit_for_any_source(
    tmp_path: Path,
) -> None:
    harness = await build_harness(tmp_path)
    try:
        async with harness.client("ingest") as http:
            response = await http.post("/v1/events", json=example("chat"))
        assert response.status_code == 202, response.text
    finally:
        await harness.close()

"""The local MinIO's users: the keeper deletes nothing, the destroyer reads nothing."""

from __future__ import annotations

from deploy.minio_iam import DESTROY_ACTIONS, KEEP_ACTIONS, bucket_policy


def _actions(policy: dict[str, object]) -> set[str]:
    statements = policy["Statement"]
    assert isinstance(statements, list)
    return {action for statement in statements for action in statement["Action"]}


def test_the_keeper_can_neither_delete_nor_bypass_retention() -> None:
    actions = _actions(bucket_policy("keepline", KEEP_ACTIONS))
    assert not {a for a in actions if "Delete" in a or "Bypass" in a}
    assert {"s3:PutObject", "s3:GetObject", "s3:PutObjectLegalHold"} <= actions


def test_the_destroyer_deletes_and_reads_nothing() -> None:
    actions = _actions(bucket_policy("keepline", DESTROY_ACTIONS))
    assert "s3:BypassGovernanceRetention" in actions
    assert not {a for a in actions if a.startswith(("s3:GetObject", "s3:Put"))}


def test_every_statement_names_the_one_bucket() -> None:
    policy = bucket_policy("kl-1", KEEP_ACTIONS)
    statements = policy["Statement"]
    assert isinstance(statements, list)
    resources = {r for statement in statements for r in statement["Resource"]}
    assert resources == {"arn:aws:s3:::kl-1", "arn:aws:s3:::kl-1/*"}

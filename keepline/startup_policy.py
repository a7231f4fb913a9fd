"""Which policy is in force at start-up, said in one line of the log.

The policy file (or the example shipped with keepline) is activated at start-up only when its
version is new to the catalog: a changed file is a deployment of a new version. An unchanged
file leaves in force any version activated since through `PUT /v1/policy` or
`keepline policy apply`, so restarting never undoes such a change.
"""

from __future__ import annotations

import logging

from keepline.root import Keepline
from policies.models import Policy

log = logging.getLogger("keepline")

SHIPPED = "the example policy shipped with keepline"


def policy_line(active: Policy, configured: Policy, source: str) -> str:
    """The start-up line naming the policy in force and where it comes from."""
    if active.version == configured.version:
        return f"policy in force: version {active.version} from {source}"
    return (
        f"policy in force: version {active.version}, activated through the API or "
        f"`keepline policy apply`; {source} (version {configured.version}) was deployed "
        "before it and replaces it only when the file changes"
    )


async def activate_and_log(root: Keepline, configured: Policy, *, source: str) -> Policy:
    """Activate the configured policy if it is new, and log which policy is in force."""
    await root.activate_configured(configured)
    active = await root.storage.policies.active(refresh=True)
    log.info("%s", policy_line(active, configured, source))
    return active

"""Who may do what to a bid: the portal policy's ``bids`` grants, narrowed by the bidding
configuration's ``policy.approval_roles`` (no Dagster).

The portal policy (``flexpower_assets/portal/policy.yaml``) says what a role may do with bid
matrices at all (view, edit, approve, submit); the bidding configuration says which roles count
as makers (``edit``) and as checkers (``approve``) for the clients' bids. A person may edit only
when both allow it, and approve only when both allow it; viewing and submitting follow the
portal policy alone. Four eyes on top: the maker of a version never approves it
(``approval.check_manual_approval``).
"""

from __future__ import annotations

from flexpower_assets.bidding.approval import Actor
from flexpower_assets.bidding.config import BiddingConfig
from flexpower_assets.portal.policy import Policy, Principal


def actor_for(principal: Principal, policy: Policy, config: BiddingConfig) -> Actor:
    role = policy.role(principal.role)
    granted = set(role.bids) if role is not None else set()
    if principal.role not in config.policy.approval_roles.edit:
        granted.discard("edit")
    if principal.role not in config.policy.approval_roles.approve:
        granted.discard("approve")
    return Actor(user=principal.user, role=principal.role, actions=frozenset(granted))

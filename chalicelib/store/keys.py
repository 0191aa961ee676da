"""Key shapes of the single table, in one place.

Partitions:
- `SITE#{site}`: the site item, its API keys, its mechanics (one Query reads all mechanics).
- `USER#{site}#{uuid}`: everything the user details page shows for one user (profile,
  activities, wallets, ledger, rewards, coupons, KPI buckets, leaderboard scores), so that
  every tab is one Query of one partition.
- `ACTID#{site}#{id}`: a pointer from an activity id to its owner, for GET by id.
Indexes (all sparse, written only by the items that need them):
- GSI1: sites list (`SITES`), users of a site by uuid (`{site}#USERS`).
- GSI2: users by display name; leaderboard standings by score.
- GSI3: users by email.  GSI4: users by creation time.
"""

from __future__ import annotations

SITES_INDEX_PK = "SITES"


def site_pk(site: str) -> str:
    return f"SITE#{site}"


SITE_SK = "SITE"


def api_key_sk(key_id: str) -> str:
    return f"KEY#{key_id}"


def mechanic_sk(kind: str, mechanic_id: str) -> str:
    return f"MECH#{kind}#{mechanic_id}"


def user_pk(site: str, uuid: str) -> str:
    return f"USER#{site}#{uuid}"


PROFILE_SK = "PROFILE"


def users_index_pk(site: str) -> str:
    return f"{site}#USERS"


def activity_pointer_pk(site: str, activity_id: str) -> str:
    return f"ACTID#{site}#{activity_id}"


def idempotency_pk(site: str, idempotency_key: str) -> str:
    return f"IDEM#{site}#{idempotency_key}"

"""Key shapes of the single table, in one place.

Partitions:
- `SITE#{site}`: the site item, its API keys, its mechanics (one Query reads all mechanics).
- `USER#{site}#{uuid}`: everything the user details page shows for one user (profile,
  activities, wallets, ledger, rewards, coupons, KPI buckets, leaderboard scores), so that
  every tab is one Query of one partition.
- `ACTID#{site}#{id}`: a pointer from an activity id to its owner, for GET by id.
- `STOCK#{site}#{coupon}#{nn}`: one of a coupon's stock shards (the copies it handed out).
Indexes (all sparse, written only by the items that need them):
- GSI1: sites list (`SITES`), users of a site by uuid (`{site}#USERS#{nn}`, 16 shards).
- GSI2: users by display name; leaderboard standings by score.
- GSI3: users by email.  GSI4: users by creation time.
"""

from __future__ import annotations

import zlib

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


PROFILE_SK = "S#PROFILE"

# Sort-key prefixes inside a user's partition. Everything under `S#` is the user's current
# state (profile, wallets, counters, rewards, coupons, bounties, leaderboard scores): one
# Query of `S#` is what the rewards cascade and most tabs read, bounded by the number of
# mechanics, never by the length of the user's history.
STATE = "S#"
ACTIVITY = "A#"
LEDGER = "L#"
BUCKET = "B#"
PENDING = "P#"
CREDIT = "E#"  # unconsumed expirable credits, read only for debits of expirable types


# The user's state item: wallets, behaviour usage, gift counts and the measures of the current
# periods (which also give the verb counts and the stats bar's totals), one item that most
# activities change once (store/userstate.py has its attribute layout).
USER_STATE_SK = "S#STATE"


def reward_sk(reward_id: str) -> str:
    return f"S#R#{reward_id}"


def user_coupon_sk(user_coupon_id: str) -> str:
    return f"S#Q#{user_coupon_id}"


def bounty_sk(bounty_id: str) -> str:
    return f"S#Y#{bounty_id}"


def board_score_sk(board_id: str, period_key: str) -> str:
    """A user's rank item of one board period (the rank job's: rank, score as ranked, standings keys)."""
    return f"S#K#{board_id}#{period_key}"


def activity_sk(activity_id: str) -> str:
    return f"A#{activity_id}"


def ledger_sk(entry_id: str) -> str:
    return f"L#{entry_id}"


def bucket_sk(period_key: str) -> str:
    return f"B#{period_key}"


def pending_sk(activity_id: str) -> str:
    return f"P#{activity_id}"


# The reconciler's sparse index of unfinished work: every ordering marker carries GSI1 keys
# `UNFINISHED#{shard}` / `{createdAt}#{site}#{uuid}#{gate}`, and the marker's delete takes its
# index entry with it. Sharded so that 10,000 accepts/s (a put and a delete each) stay far
# under one index partition's 1,000 writes/s.
UNFINISHED_SHARDS = 32


def unfinished_index_pk(shard: int) -> str:
    return f"UNFINISHED#{shard:02d}"


def shard_of(value: str, shards: int) -> int:
    """A stable spread of `value` over `shards` (not Python's hash, which is salted per process)."""
    return zlib.crc32(value.encode()) % shards


def unfinished_shard(gate_id: str) -> int:
    return shard_of(gate_id, UNFINISHED_SHARDS)


def credit_sk(point_id: str, expires_at: str, batch_id: str) -> str:
    return f"E#{point_id}#{expires_at}#{batch_id}"


# A user's live scores on one board (every period of it) are one item, `S#L#{board}`, spread
# over this many GSI2 partitions by a hash of the user: every score change writes its
# partition twice (its sort key, the time of the write, moves: a delete and a put of the index
# entry), and one partition takes at most 1,000 write units/s (10,000 score changes/s on one
# board: 625 units/s each). The rank job reads them all; a live item written when there were
# 16 stays where it is until its next write, inside the 32 read.
BOARD_SHARDS = 32


def board_live_sk(board_id: str) -> str:
    return f"S#L#{board_id}"


def board_index_pk(site: str, board_id: str, uuid: str) -> str:
    """The GSI2 partition of `uuid`'s live scores on a board."""
    return f"{site}#LBL#{board_id}#{shard_of(uuid, BOARD_SHARDS):02d}"


def board_index_pks(site: str, board_id: str) -> list[str]:
    """Every GSI2 partition of a board's live scores."""
    return [f"{site}#LBL#{board_id}#{shard:02d}" for shard in range(BOARD_SHARDS)]


def legacy_board_index_pks(site: str, board_id: str, period_key: str) -> list[str]:
    """Where score items of one board period sat before the live items (one per user, board and
    period, sharded or not): the rank job adopts what it still finds there."""
    return [f"{site}#LB#{board_id}#{period_key}#{shard:02d}" for shard in range(BOARD_SHARDS)] + [
        f"{site}#LB#{board_id}#{period_key}"]


def coupon_stock_sk(coupon_id: str) -> str:
    """The single site-level counter of a coupon's copies handed out, before the stock shards:
    read only, as the count the shards start after (`coupon_stock_pk`)."""
    return f"STOCK#{coupon_id}"


# A coupon's stock in shards of their own partition each: at 1,000 purchases/s of one coupon a
# shard sees about 16 a second, so an optimistic take loses its race to another buyer about one
# time in four (bench/capacity.py's flash sale) instead of nearly always.
STOCK_SHARDS = 64
STOCK_SHARD_SK = "S"


def coupon_stock_pk(site: str, coupon_id: str, shard: int) -> str:
    return f"STOCK#{site}#{coupon_id}#{shard:02d}"


# A site's users index (GSI1-4: users by uuid, name, email and creation time) is spread over
# USERS_SHARDS partitions by user, so profile writes (an import of millions, the tag changes
# behaviours make) are not one partition's 1,000 writes a second; a page merges the shards.
USERS_SHARDS = 16


def users_index_pk(site: str, uuid: str) -> str:
    return f"{site}#USERS#{shard_of(uuid, USERS_SHARDS):02d}"


def legacy_users_index_pk(site: str) -> str:
    """The one partition profiles were indexed under before the shards: a profile written then
    stays there until its next profile write, so readers merge it in too."""
    return f"{site}#USERS"


def users_index_pks(site: str) -> list[str]:
    """Every partition of the site's users index: the shards, then the one before them."""
    return [*(f"{site}#USERS#{n:02d}" for n in range(USERS_SHARDS)), legacy_users_index_pk(site)]


def activity_pointer_pk(site: str, activity_id: str) -> str:
    return f"ACTID#{site}#{activity_id}"


POINTER_SK = "A"


def idempotency_pk(site: str, idempotency_key: str) -> str:
    return f"IDEM#{site}#{idempotency_key}"


IDEMPOTENCY_SK = "K"

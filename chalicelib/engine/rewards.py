"""Rewards: the unlock cascade, per-criterion progress, classification, and revocation.

All functions work on a `UserProgress` snapshot the store reads for one user. They never
mutate it; they return what changed so the store can write it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from chalicelib.engine.periods import WeekStart, expiry_instant, local_date, period_key
from chalicelib.models.mechanics import (
    Achievement,
    Gift,
    Level,
    Mission,
    RepeatEvery,
    RepeatUpTo,
    RewardPrizes,
    SiteMechanics,
)

AnyReward = Achievement | Level | Mission | Gift


# ---------------------------------------------------------------- the snapshot


@dataclass(frozen=True)
class VerbCount:
    """A user's SUCCEEDED behaviour activities of one verb (one per activity).

    `by_period` maps `periods.period_key` keys (day, week and month of the current time at
    least) to counts; period-repeating achievements read it.
    """

    total: int = 0
    by_period: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Completion:
    """One time a reward was unlocked.

    `verb_counts` are the user's verb totals at that moment (achievements only): progress
    towards the next completion counts from there.
    """

    at: dt.datetime
    verb_counts: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class RewardRecord:
    """What a user has of one reward. Revoked completions are removed by the store;
    `lost_at` marks a level lost on a demoting ladder (its completions still count in stats)."""

    reward_id: str
    completions: tuple[Completion, ...] = ()
    lost_at: dt.datetime | None = None

    @property
    def last(self) -> Completion | None:
        return self.completions[-1] if self.completions else None


@dataclass(frozen=True)
class UserProgress:
    uuid: str
    tags: tuple[str, ...] = ()
    behaviour_counts: Mapping[str, VerbCount] = field(default_factory=dict)
    earned: Mapping[str, int] = field(default_factory=dict)
    expired: Mapping[str, int] = field(default_factory=dict)
    rewards: Mapping[str, RewardRecord] = field(default_factory=dict)
    gifts_received: Mapping[str, int] = field(default_factory=dict)
    """Gifts received per gift reward id (a gift counts as completed once received)."""
    gifts_received_at: Mapping[str, dt.datetime] = field(default_factory=dict)
    """When each gift reward was last received (none for gifts received before this was kept)."""


@dataclass(frozen=True)
class CriterionProgress:
    label: str
    current: int
    required: int
    done: bool


@dataclass(frozen=True)
class Unlock:
    reward_id: str
    kind: Literal["achievement", "level", "mission", "gift"]
    name: str
    completed_at: dt.datetime
    prizes: RewardPrizes
    verb_counts: Mapping[str, int]
    """For achievements: the verb totals to store on the completion (progress restarts)."""


@dataclass(frozen=True)
class RewardOutcome:
    unlocked: list[Unlock]
    lost: list[str]
    """Levels lost on demoting ladders (their prizes are kept)."""
    points: dict[str, int]
    """Prize points, summed per point type."""
    add_tags: list[str]
    remove_tags: list[str]
    coupons: list[str]
    """Coupon ids to award, one per prize (in unlock order)."""
    progress: UserProgress
    """The snapshot with all of the above applied."""


# ---------------------------------------------------------------- rules of one reward


def visible_to(reward: AnyReward, tags: Iterable[str]) -> bool:
    """Tag-restricted rewards are for users having any of the tags (seen and earned)."""
    return not reward.tags or not set(reward.tags).isdisjoint(tags)


def in_window(reward: AnyReward, today: dt.date) -> bool:
    if reward.available_from and today < reward.available_from:
        return False
    return not (reward.available_to and today > reward.available_to)


def lapses_at(reward: AnyReward, completion: Completion, tz: str) -> dt.datetime | None:
    if isinstance(reward, Achievement) and reward.expires_after_days:
        return expiry_instant(completion.at, reward.expires_after_days, tz)
    return None


def is_held(reward: AnyReward, record: RewardRecord | None, now: dt.datetime, tz: str) -> bool:
    """Completed and neither lapsed, lost nor revoked."""
    if record is None or record.last is None:
        return False
    last = record.last
    if record.lost_at is not None and record.lost_at >= last.at:
        return False
    lapse = lapses_at(reward, last, tz)
    return lapse is None or now < lapse


def _gift_held(reward_id: str, progress: UserProgress) -> bool:
    return progress.gifts_received.get(reward_id, 0) > 0


def _achievement_counts(
    reward: Achievement, progress: UserProgress, now: dt.datetime, tz: str, week_start: WeekStart
) -> list[int]:
    record = progress.rewards.get(reward.id)
    counts = progress.behaviour_counts
    if isinstance(reward.repeat, RepeatEvery):
        key = period_key(reward.repeat.period, now, tz, week_start)
        return [counts.get(c.verb, VerbCount()).by_period.get(key, 0) for c in reward.criteria]
    baseline = record.last.verb_counts if record and record.last else {}
    return [max(0, counts.get(c.verb, VerbCount()).total - baseline.get(c.verb, 0)) for c in reward.criteria]


def _level_value(site: SiteMechanics, level: Level, progress: UserProgress, point_id: str) -> int:
    earned = progress.earned.get(point_id, 0)
    if site.ladder_can_demote(level.ladder):
        return earned - progress.expired.get(point_id, 0)
    return earned


def _criterion_held(
    site: SiteMechanics, reward_id: str, progress: UserProgress, now: dt.datetime, tz: str
) -> bool:
    reward = site.rewards.get(reward_id)
    if reward is None:
        return False
    if isinstance(reward, Gift) and _gift_held(reward_id, progress):
        return True
    return is_held(reward, progress.rewards.get(reward_id), now, tz)


def _first_completion_after(record: RewardRecord | None, after: dt.datetime | None) -> dt.datetime | None:
    if record is None:
        return None
    for c in record.completions:
        if after is None or c.at >= after:
            return c.at
    return None


def _mission_done(
    site: SiteMechanics, mission: Mission, progress: UserProgress, now: dt.datetime, tz: str
) -> list[bool]:
    held = [_criterion_held(site, c.reward_id, progress, now, tz) for c in mission.criteria]
    if not mission.ordered:
        return held
    # Ordered: each criterion must have been completed no earlier than the one before it;
    # a criterion counts only once every earlier one is done, in order.
    done: list[bool] = []
    previous: dt.datetime | None = None
    for c, ok in zip(mission.criteria, held, strict=True):
        if not ok or (done and not done[-1]):
            done.append(False)
            continue
        at = _first_completion_after(progress.rewards.get(c.reward_id), previous)
        if at is None and _gift_held(c.reward_id, progress):
            at = previous  # a gift received without a record has no time: it never breaks order
        done.append(at is not None or previous is None)
        previous = at if at is not None else previous
    return done


def criteria_progress(
    site: SiteMechanics,
    reward: AnyReward,
    progress: UserProgress,
    now: dt.datetime,
    tz: str,
    week_start: WeekStart = "monday",
) -> list[CriterionProgress]:
    """`{label, current, required, done}` per criterion; `current` is capped at `required`."""
    out: list[CriterionProgress] = []
    if isinstance(reward, Achievement):
        counts = _achievement_counts(reward, progress, now, tz, week_start)
        for vc, n in zip(reward.criteria, counts, strict=True):
            simple = site.simple_by_verb.get(vc.verb)
            label = simple.name if simple else vc.verb
            out.append(CriterionProgress(label, min(n, vc.times), vc.times, n >= vc.times))
    elif isinstance(reward, Level):
        for pc in reward.criteria:
            pt = site.point_types.get(pc.point_id)
            value = max(0, _level_value(site, reward, progress, pc.point_id))
            out.append(
                CriterionProgress(
                    pt.name if pt else pc.point_id, min(value, pc.points), pc.points, value >= pc.points
                )
            )
    elif isinstance(reward, Mission):
        for rc, done in zip(reward.criteria, _mission_done(site, reward, progress, now, tz), strict=True):
            other = site.rewards.get(rc.reward_id)
            out.append(CriterionProgress(other.name if other else rc.reward_id, int(done), 1, done))
    else:
        received = progress.gifts_received.get(reward.id, 0)
        out.append(CriterionProgress(reward.name, min(received, 1), 1, received > 0))
    return out


def _can_unlock(
    site: SiteMechanics,
    reward: AnyReward,
    progress: UserProgress,
    now: dt.datetime,
    tz: str,
    week_start: WeekStart,
    today: dt.date,
) -> bool:
    if isinstance(reward, Gift):
        return False  # gifts are sent by users, never unlocked by a cascade
    if not visible_to(reward, progress.tags) or not in_window(reward, today):
        return False
    record = progress.rewards.get(reward.id)
    held = is_held(reward, record, now, tz)
    if isinstance(reward, Achievement):
        if isinstance(reward.repeat, RepeatEvery):
            last = record.last if record else None
            if last and period_key(reward.repeat.period, last.at, tz, week_start) == period_key(
                reward.repeat.period, now, tz, week_start
            ):
                return False
        elif isinstance(reward.repeat, RepeatUpTo):
            if record and len(record.completions) >= reward.repeat.max_times:
                return False
        elif held:
            return False
        counts = _achievement_counts(reward, progress, now, tz, week_start)
        return all(n >= c.times for n, c in zip(counts, reward.criteria, strict=True))
    if held:
        return False
    if isinstance(reward, Level):
        return all(_level_value(site, reward, progress, c.point_id) >= c.points for c in reward.criteria)
    return all(_mission_done(site, reward, progress, now, tz))


def _level_lost(site: SiteMechanics, level: Level, progress: UserProgress, now: dt.datetime, tz: str) -> bool:
    if not site.ladder_can_demote(level.ladder) or not is_held(
        level, progress.rewards.get(level.id), now, tz
    ):
        return False
    return not all(_level_value(site, level, progress, c.point_id) >= c.points for c in level.criteria)


def after_behaviour(progress: UserProgress, verb: str, period_keys: Iterable[str], earned: Mapping[str, int],
                    tags: Iterable[str]) -> UserProgress:
    """`progress` with one behaviour activity counted: its verb once in total and in each of
    `period_keys`, `earned` points added, the user's tags as the activity left them."""
    count = progress.behaviour_counts.get(verb, VerbCount())
    by_period = dict(count.by_period)
    for key in period_keys:
        by_period[key] = by_period.get(key, 0) + 1
    return replace(
        progress,
        behaviour_counts={**progress.behaviour_counts, verb: VerbCount(count.total + 1, by_period)},
        earned={pid: progress.earned.get(pid, 0) + earned.get(pid, 0) for pid in {*progress.earned, *earned}},
        tags=tuple(tags),
    )


def after_earning(progress: UserProgress, earned: Mapping[str, int]) -> UserProgress:
    """`progress` with `earned` points added (a point increment: nothing else moves)."""
    return replace(progress, earned={pid: progress.earned.get(pid, 0) + earned.get(pid, 0)
                                     for pid in {*progress.earned, *earned}})


# ---------------------------------------------------------------- the cascade


class _Working:
    """A mutable copy of the snapshot while a cascade runs."""

    def __init__(self, progress: UserProgress) -> None:
        self.base = progress
        self.rewards = dict(progress.rewards)
        self.earned = dict(progress.earned)
        self.tags = list(progress.tags)
        self._snapshot: UserProgress | None = None

    def changed(self) -> None:
        self._snapshot = None

    def snapshot(self) -> UserProgress:
        # Rebuilt only after a change: most checks in a cascade change nothing.
        if self._snapshot is None:
            self._snapshot = replace(
                self.base, rewards=dict(self.rewards), earned=dict(self.earned), tags=tuple(self.tags)
            )
        return self._snapshot


def evaluate_rewards(
    site: SiteMechanics,
    progress: UserProgress,
    now: dt.datetime,
    tz: str,
    week_start: WeekStart = "monday",
    *,
    changed_verbs: Iterable[str] = (),
    changed_points: Iterable[str] = (),
    changed_rewards: Iterable[str] = (),
    everything: bool = False,
) -> RewardOutcome:
    """Unlock what the user now qualifies for, cascading to a fixpoint.

    `progress` already includes the activity's own effects (the verb counted, its points in
    `earned`). Only rewards that can depend on what changed are checked (`everything=True`
    checks all, e.g. after an expiry run or a mechanics change). Achievements feed prizes,
    prizes feed levels, anything feeds missions; each reward unlocks at most once per call.
    """
    order = site.reward_order
    today = local_date(now, tz)
    work = _Working(progress)
    dirty: set[str] = set(site.rewards) if everything else set(changed_rewards)
    for verb in changed_verbs:
        dirty.update(r.id for r in site.achievements_by_verb.get(verb, ()))
    for point_id in changed_points:
        dirty.update(r.id for r in site.levels_by_point.get(point_id, ()))
    for rid in list(dirty):
        dirty.update(m.id for m in site.missions_by_reward.get(rid, ()))

    unlocked: list[Unlock] = []
    done: set[str] = set()
    lost: list[str] = []
    points: dict[str, int] = {}
    tag_changes: dict[str, bool] = {}
    coupons: list[str] = []
    while dirty:
        batch = sorted((rid for rid in dirty if rid in order), key=order.__getitem__)
        dirty = set()
        for rid in batch:
            if rid in done:
                continue
            reward = site.rewards[rid]
            snap = work.snapshot()
            if isinstance(reward, Level) and _level_lost(site, reward, snap, now, tz):
                record = work.rewards[rid]
                work.rewards[rid] = replace(record, lost_at=now)
                work.changed()
                lost.append(rid)
                dirty.update(m.id for m in site.missions_by_reward.get(rid, ()))
                continue
            if not _can_unlock(site, reward, snap, now, tz, week_start, today):
                continue
            done.add(rid)
            work.changed()
            counts = (
                {c.verb: work.base.behaviour_counts.get(c.verb, VerbCount()).total for c in reward.criteria}
                if isinstance(reward, Achievement)
                else {}
            )
            record = work.rewards.get(rid) or RewardRecord(rid)
            work.rewards[rid] = RewardRecord(rid, (*record.completions, Completion(now, counts)), None)
            unlocked.append(Unlock(rid, reward.kind, reward.name, now, reward.prizes, counts))
            dirty.update(m.id for m in site.missions_by_reward.get(rid, ()))
            for prize in reward.prizes.points:
                points[prize.point_id] = points.get(prize.point_id, 0) + prize.points
                work.earned[prize.point_id] = work.earned.get(prize.point_id, 0) + prize.points
                dirty.update(r.id for r in site.levels_by_point.get(prize.point_id, ()))
            if reward.prizes.add_tags or reward.prizes.remove_tags:
                for tag in reward.prizes.add_tags:
                    tag_changes[tag] = True
                    if tag not in work.tags:
                        work.tags.append(tag)
                for tag in reward.prizes.remove_tags:
                    tag_changes[tag] = False
                    if tag in work.tags:
                        work.tags.remove(tag)
                dirty.update(site.tag_restricted_rewards)
            coupons.extend(reward.prizes.coupons)
        dirty -= done

    return RewardOutcome(
        unlocked=unlocked,
        lost=lost,
        points=points,
        add_tags=[t for t, add in tag_changes.items() if add],
        remove_tags=[t for t, add in tag_changes.items() if not add],
        coupons=coupons,
        progress=work.snapshot(),
    )


# ---------------------------------------------------------------- the rewards tab


@dataclass(frozen=True)
class RewardStatus:
    reward_id: str
    kind: str
    name: str
    criteria: list[CriterionProgress]
    completed_at: dt.datetime | None


@dataclass(frozen=True)
class RewardBoard:
    completed: list[RewardStatus]
    in_progress: list[RewardStatus]
    available: list[RewardStatus]


def classify_rewards(
    site: SiteMechanics,
    progress: UserProgress,
    now: dt.datetime,
    tz: str,
    week_start: WeekStart = "monday",
) -> RewardBoard:
    """Completed (held), in progress (some criterion above zero) or available (no progress).

    Hidden rewards, rewards for other tags and rewards outside their availability window are
    listed only once completed. Gifts are listed only once received (they are not earned).
    """
    today = local_date(now, tz)
    board = RewardBoard([], [], [])
    for reward in site.rewards.values():
        record = progress.rewards.get(reward.id)
        held = is_held(reward, record, now, tz) or (
            isinstance(reward, Gift) and _gift_held(reward.id, progress)
        )
        if held:
            criteria = [
                replace(c, current=c.required, done=True)
                for c in criteria_progress(site, reward, progress, now, tz, week_start)
            ]
            last = record.last if record else None
            at = last.at if last else progress.gifts_received_at.get(reward.id)
            board.completed.append(RewardStatus(reward.id, reward.kind, reward.name, criteria, at))
            continue
        if (
            reward.hidden
            or isinstance(reward, Gift)
            or not visible_to(reward, progress.tags)
            or not in_window(reward, today)
        ):
            continue
        criteria = criteria_progress(site, reward, progress, now, tz, week_start)
        status = RewardStatus(reward.id, reward.kind, reward.name, criteria, None)
        if any(c.current > 0 for c in criteria):
            board.in_progress.append(status)
        else:
            board.available.append(status)
    board.completed.sort(key=lambda s: s.completed_at or now, reverse=True)
    return board


@dataclass(frozen=True)
class CompletionStat:
    count: int
    recent: bool


RECENT = dt.timedelta(hours=720)


def completion_stats(
    site: SiteMechanics, progress: UserProgress, now: dt.datetime
) -> dict[str, CompletionStat]:
    """The stats bar's reward counts: `rewards` (every completion, repeats counted) and one
    per kind (`achievements`, `levels`, `missions`); `recent` when one came in the last 720 h.

    Levels count every level reached (Gold past Bronze and Silver is 3); lost or lapsed
    completions still count, revoked ones are gone from the snapshot. A gift reward received is
    a completion too (domain.md: completions of any kind), one per gift received; its recency
    comes from the gifts stat (received gifts carry no completion time here).
    """
    keys = ("rewards", "achievements", "levels", "missions")
    counts = dict.fromkeys(keys, 0)
    recent = dict.fromkeys(keys, False)
    for rid, record in progress.rewards.items():
        reward = site.rewards.get(rid)
        if reward is None or isinstance(reward, Gift):
            continue
        for c in record.completions:
            for key in ("rewards", f"{reward.kind}s"):
                counts[key] += 1
                recent[key] = recent[key] or now - c.at < RECENT
    counts["rewards"] += sum(n for rid, n in progress.gifts_received.items() if isinstance(site.rewards.get(rid), Gift))
    return {k: CompletionStat(counts[k], recent[k]) for k in keys}


# ---------------------------------------------------------------- reject


@dataclass(frozen=True)
class RevokedReward:
    reward_id: str
    kind: str
    completed_at: dt.datetime
    prizes: RewardPrizes


@dataclass(frozen=True)
class Revocation:
    revoked: list[RevokedReward]
    """Completions to delete; the store reverses the prize ledger entries of each."""
    points: dict[str, int]
    """Prize points to take back per point type (as configured now; the store should reverse
    the actual prize entries, which these equal unless the mechanic was edited since)."""
    add_tags: list[str]
    """Tags removed by revoked prizes, to give back."""
    remove_tags: list[str]
    """Tags added by revoked prizes, to take away."""
    coupons: list[str]
    progress: UserProgress


def _mission_held_at(mission: Mission, progress: UserProgress, at: dt.datetime) -> bool:
    """Whether every criterion had a (surviving) completion by `at`, in order if ordered.

    Later loss or lapse of a criterion does not matter: it held when the mission completed.
    """
    previous: dt.datetime | None = None
    for c in mission.criteria:
        record = progress.rewards.get(c.reward_id)
        times = [x.at for x in record.completions] if record else []
        if mission.ordered and previous is not None:
            times = [t for t in times if t >= previous]
        times = [t for t in times if t <= at]
        if not times:
            if _gift_held(c.reward_id, progress):
                continue
            return False
        previous = min(times)
    return True


def revoke_after_reject(
    site: SiteMechanics,
    progress: UserProgress,
    rejected_at: dt.datetime,
    now: dt.datetime,
    tz: str,
    week_start: WeekStart = "monday",
    *,
    rejected_verb: str | None = None,
    revoke: Sequence[str] = (),
) -> Revocation:
    """Which completions no longer hold once an activity is rejected, cascading to missions.

    `progress` is the snapshot with the rejected activity's own effects already removed (its
    verb count and its behaviour/point entries), but not the prizes of rewards it unlocked:
    a reward it unlocked stays if a later activity would have unlocked it anyway. Only
    completions at or after `rejected_at` (the rejected activity's processing time) can
    depend on it. `revoke` names rewards the activity gave directly (a gift's badge).
    Revoked prizes lower `earned`, which can revoke levels, which can revoke missions.
    """
    work = _Working(progress)
    revoked: list[RevokedReward] = []
    points: dict[str, int] = {}
    gained_tags: list[str] = []
    lost_tags: list[str] = []
    coupons: list[str] = []
    forced = set(revoke)

    def fails(reward: AnyReward, record: RewardRecord, snap: UserProgress) -> bool:
        last = record.completions[-1]
        if reward.id in forced:
            return True
        if last.at < rejected_at:
            return False
        if isinstance(reward, Achievement):
            if isinstance(reward.repeat, RepeatEvery):
                key = period_key(reward.repeat.period, last.at, tz, week_start)
                counts_by = [
                    snap.behaviour_counts.get(c.verb, VerbCount()).by_period.get(key) for c in reward.criteria
                ]
                return any(
                    n is not None and n < c.times for n, c in zip(counts_by, reward.criteria, strict=True)
                )
            prev = record.completions[-2] if len(record.completions) > 1 else None
            for c in reward.criteria:
                baseline = prev.verb_counts.get(c.verb, 0) if prev else 0
                if prev and prev.at >= rejected_at and c.verb == rejected_verb:
                    baseline -= 1  # the earlier completion also counted the rejected activity
                if snap.behaviour_counts.get(c.verb, VerbCount()).total - baseline < c.times:
                    return True
            return False
        if isinstance(reward, Level):
            return not all(_level_value(site, reward, snap, c.point_id) >= c.points for c in reward.criteria)
        if isinstance(reward, Mission):
            return not _mission_held_at(reward, snap, last.at)
        return False

    changed = True
    while changed:
        changed = False
        for rid, reward in site.rewards.items():
            record = work.rewards.get(rid)
            if record is None or not record.completions:
                continue
            snap = work.snapshot()
            if not fails(reward, record, snap):
                continue
            last = record.completions[-1]
            work.rewards[rid] = replace(record, completions=record.completions[:-1])
            work.changed()
            forced.discard(rid)
            revoked.append(RevokedReward(rid, reward.kind, last.at, reward.prizes))
            for prize in reward.prizes.points:
                points[prize.point_id] = points.get(prize.point_id, 0) + prize.points
                work.earned[prize.point_id] = work.earned.get(prize.point_id, 0) - prize.points
            gained_tags.extend(reward.prizes.remove_tags)
            lost_tags.extend(reward.prizes.add_tags)
            work.tags = [t for t in work.tags if t not in reward.prizes.add_tags]
            work.tags.extend(t for t in reward.prizes.remove_tags if t not in work.tags)
            coupons.extend(reward.prizes.coupons)
            changed = True

    return Revocation(revoked, points, gained_tags, lost_tags, coupons, work.snapshot())

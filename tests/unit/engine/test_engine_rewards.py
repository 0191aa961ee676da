import datetime as dt
from typing import Any

from _engine_fixtures import point, reward, simple, site, utc

from chalicelib.engine.rewards import (
    Completion,
    CompletionStat,
    CriterionProgress,
    RewardRecord,
    UserProgress,
    VerbCount,
    classify_rewards,
    completion_stats,
    criteria_progress,
    evaluate_rewards,
    is_held,
    revoke_after_reject,
)

NOW = utc(2026, 3, 10, 12)
XP = point("xp")


def starter_site() -> Any:
    return site(
        point_types=[XP],
        behaviours=[simple("watch_video", points={"xp": 10}), simple("comment", points={"xp": 1})],
        rewards=[
            reward(
                {
                    "id": "binge",
                    "kind": "achievement",
                    "criteria": [{"verb": "watch_video", "times": 3}],
                    "prizes": {"points": [{"pointId": "xp", "points": 50}], "addTags": ["bingers"]},
                }
            ),
            reward(
                {
                    "id": "silver",
                    "kind": "level",
                    "ladder": "status",
                    "criteria": [{"pointId": "xp", "points": 80}],
                }
            ),
            reward(
                {
                    "id": "starter",
                    "kind": "mission",
                    "criteria": [{"rewardId": "binge"}, {"rewardId": "silver"}],
                    "prizes": {"coupons": ["tshirt"]},
                }
            ),
        ],
    )


def test_a_mission_completes_by_cascade_in_one_activity() -> None:
    # Third video: the activity's own 10 xp make 30; binge's 50 make 80 = silver; both make starter.
    progress = UserProgress("alice", behaviour_counts={"watch_video": VerbCount(3)}, earned={"xp": 30})
    out = evaluate_rewards(
        starter_site(), progress, NOW, "UTC", changed_verbs=["watch_video"], changed_points=["xp"]
    )
    assert [u.reward_id for u in out.unlocked] == ["binge", "silver", "starter"]
    assert out.points == {"xp": 50}
    assert out.coupons == ["tshirt"]
    assert out.add_tags == ["bingers"]
    assert out.unlocked[0].verb_counts == {"watch_video": 3}
    assert out.progress.earned == {"xp": 80}
    assert out.progress.tags == ("bingers",)


def test_nothing_unlocks_below_the_criteria() -> None:
    progress = UserProgress("alice", behaviour_counts={"watch_video": VerbCount(2)}, earned={"xp": 20})
    out = evaluate_rewards(
        starter_site(), progress, NOW, "UTC", changed_verbs=["watch_video"], changed_points=["xp"]
    )
    assert out.unlocked == []
    assert out.points == {}


def test_a_held_achievement_is_not_unlocked_twice() -> None:
    progress = UserProgress(
        "alice",
        behaviour_counts={"watch_video": VerbCount(9)},
        earned={"xp": 20},
        rewards={"binge": RewardRecord("binge", (Completion(utc(2026, 3, 1), {"watch_video": 3}),))},
    )
    assert evaluate_rewards(starter_site(), progress, NOW, "UTC", everything=True).unlocked == []


def repeat_site(repeat: dict[str, Any], **extra: Any) -> Any:
    return site(
        point_types=[XP],
        behaviours=[simple("run", points={"xp": 1})],
        rewards=[
            reward(
                {
                    "id": "runner",
                    "kind": "achievement",
                    "criteria": [{"verb": "run", "times": 3}],
                    "repeat": repeat,
                    **extra,
                }
            )
        ],
    )


def test_max_times_repeats_at_most_once_per_cycle_and_restarts_progress() -> None:
    s = repeat_site({"maxTimes": 2})
    progress = UserProgress("bob", behaviour_counts={"run": VerbCount(7)})
    first = evaluate_rewards(s, progress, NOW, "UTC", changed_verbs=["run"])
    assert [u.reward_id for u in first.unlocked] == ["runner"]
    # Progress restarts from the completion: 7 - 7 = 0 of 3.
    assert criteria_progress(s, s.rewards["runner"], first.progress, NOW, "UTC") == [
        CriterionProgress("Run", 0, 3, False)
    ]
    later = UserProgress("bob", behaviour_counts={"run": VerbCount(10)}, rewards=first.progress.rewards)
    second = evaluate_rewards(s, later, NOW, "UTC", changed_verbs=["run"])
    assert [u.reward_id for u in second.unlocked] == ["runner"]
    third = UserProgress("bob", behaviour_counts={"run": VerbCount(20)}, rewards=second.progress.rewards)
    assert evaluate_rewards(s, third, NOW, "UTC", changed_verbs=["run"]).unlocked == []


def test_period_repeat_counts_within_the_period_once_per_period() -> None:
    s = repeat_site({"period": "day"})
    today = {"run": VerbCount(10, {"day:2026-03-10": 3})}
    done_today = {"runner": RewardRecord("runner", (Completion(utc(2026, 3, 10, 8)),))}
    assert (
        evaluate_rewards(
            s, UserProgress("bob", behaviour_counts=today, rewards=done_today), NOW, "UTC", everything=True
        ).unlocked
        == []
    )
    done_yesterday = {"runner": RewardRecord("runner", (Completion(utc(2026, 3, 9, 8)),))}
    out = evaluate_rewards(
        s, UserProgress("bob", behaviour_counts=today, rewards=done_yesterday), NOW, "UTC", everything=True
    )
    assert [u.reward_id for u in out.unlocked] == ["runner"]
    only_two = {"run": VerbCount(10, {"day:2026-03-10": 2})}
    assert (
        evaluate_rewards(
            s, UserProgress("bob", behaviour_counts=only_two), NOW, "UTC", everything=True
        ).unlocked
        == []
    )


def test_an_expiring_achievement_lapses_at_local_midnight_and_can_be_earned_again() -> None:
    s = site(
        point_types=[XP],
        behaviours=[simple("run")],
        rewards=[
            reward(
                {
                    "id": "fit",
                    "kind": "achievement",
                    "criteria": [{"verb": "run", "times": 2}],
                    "expiresAfterDays": 7,
                }
            )
        ],
    )
    record = RewardRecord("fit", (Completion(utc(2026, 3, 1, 10), {"run": 2}),))
    fit = s.rewards["fit"]
    assert is_held(fit, record, utc(2026, 3, 7, 23, 59), "UTC")
    assert not is_held(fit, record, utc(2026, 3, 8, 0, 0), "UTC")
    progress = UserProgress("c", behaviour_counts={"run": VerbCount(3)}, rewards={"fit": record})
    board = classify_rewards(s, progress, utc(2026, 3, 8), "UTC")
    assert board.completed == []
    assert [(r.reward_id, r.criteria[0].current) for r in board.in_progress] == [("fit", 1)]
    again = UserProgress("c", behaviour_counts={"run": VerbCount(4)}, rewards={"fit": record})
    assert [
        u.reward_id
        for u in evaluate_rewards(s, again, utc(2026, 3, 8), "UTC", changed_verbs=["run"]).unlocked
    ] == ["fit"]


def ladder_site(can_demote: bool) -> Any:
    return site(
        point_types=[XP],
        rewards=[
            reward(
                {
                    "id": "gold",
                    "kind": "level",
                    "ladder": "status",
                    "canDemote": can_demote,
                    "criteria": [{"pointId": "xp", "points": 100}],
                }
            ),
            reward(
                {
                    "id": "bronze",
                    "kind": "level",
                    "ladder": "status",
                    "canDemote": can_demote,
                    "criteria": [{"pointId": "xp", "points": 10}],
                }
            ),
            reward(
                {
                    "id": "silver",
                    "kind": "level",
                    "ladder": "status",
                    "canDemote": can_demote,
                    "criteria": [{"pointId": "xp", "points": 50}],
                }
            ),
        ],
    )


def test_levels_use_earned_not_balance_and_a_jump_reaches_every_level_passed() -> None:
    out = evaluate_rewards(
        ladder_site(False),
        UserProgress("d", earned={"xp": 120}, expired={"xp": 90}),
        NOW,
        "UTC",
        changed_points=["xp"],
    )
    assert sorted(u.reward_id for u in out.unlocked) == ["bronze", "gold", "silver"]


def test_a_demoting_ladder_uses_earned_minus_expired_and_loses_levels() -> None:
    s = ladder_site(True)
    out = evaluate_rewards(
        s, UserProgress("d", earned={"xp": 120}, expired={"xp": 90}), NOW, "UTC", changed_points=["xp"]
    )
    assert [u.reward_id for u in out.unlocked] == ["bronze"]
    held = {rid: RewardRecord(rid, (Completion(utc(2026, 1, 1)),)) for rid in ("bronze", "silver")}
    demoted = evaluate_rewards(
        s,
        UserProgress("d", earned={"xp": 60}, expired={"xp": 20}, rewards=held),
        NOW,
        "UTC",
        changed_points=["xp"],
    )
    assert demoted.lost == ["silver"]
    assert demoted.points == {}
    assert not is_held(s.rewards["silver"], demoted.progress.rewards["silver"], NOW, "UTC")
    assert is_held(s.rewards["bronze"], demoted.progress.rewards["bronze"], NOW, "UTC")
    # Without demotion the same figures keep silver.
    kept = evaluate_rewards(
        ladder_site(False),
        UserProgress("d", earned={"xp": 60}, expired={"xp": 20}, rewards=held),
        NOW,
        "UTC",
        changed_points=["xp"],
    )
    assert kept.lost == []


def ordered_site() -> Any:
    return site(
        point_types=[XP],
        behaviours=[simple("a"), simple("b")],
        rewards=[
            reward({"id": "first", "kind": "achievement", "criteria": [{"verb": "a", "times": 1}]}),
            reward({"id": "second", "kind": "achievement", "criteria": [{"verb": "b", "times": 1}]}),
            reward(
                {
                    "id": "path",
                    "kind": "mission",
                    "ordered": True,
                    "criteria": [{"rewardId": "first"}, {"rewardId": "second"}],
                }
            ),
        ],
    )


def test_an_ordered_mission_needs_its_criteria_in_order() -> None:
    s = ordered_site()
    wrong = {
        "first": RewardRecord("first", (Completion(utc(2026, 3, 5)),)),
        "second": RewardRecord("second", (Completion(utc(2026, 3, 4)),)),
    }
    progress = UserProgress("e", rewards=wrong)
    assert evaluate_rewards(s, progress, NOW, "UTC", everything=True).unlocked == []
    assert [c.done for c in criteria_progress(s, s.rewards["path"], progress, NOW, "UTC")] == [True, False]
    right = {
        "first": RewardRecord("first", (Completion(utc(2026, 3, 4)),)),
        "second": RewardRecord("second", (Completion(utc(2026, 3, 5)),)),
    }
    assert [
        u.reward_id
        for u in evaluate_rewards(s, UserProgress("e", rewards=right), NOW, "UTC", everything=True).unlocked
    ] == ["path"]
    # Unordered, the wrong order is fine.
    unordered = site(
        point_types=[XP],
        behaviours=[simple("a"), simple("b")],
        rewards=[
            *list(s.rewards.values())[:2],
            reward(
                {"id": "path", "kind": "mission", "criteria": [{"rewardId": "first"}, {"rewardId": "second"}]}
            ),
        ],
    )
    assert [
        u.reward_id for u in evaluate_rewards(unordered, progress, NOW, "UTC", everything=True).unlocked
    ] == ["path"]


def test_a_mission_can_need_a_received_gift() -> None:
    s = site(
        rewards=[
            reward({"id": "thanks", "kind": "gift"}),
            reward({"id": "loved", "kind": "mission", "criteria": [{"rewardId": "thanks"}]}),
        ]
    )
    assert evaluate_rewards(s, UserProgress("f"), NOW, "UTC", everything=True).unlocked == []
    out = evaluate_rewards(
        s, UserProgress("f", gifts_received={"thanks": 2}), NOW, "UTC", changed_rewards=["thanks"]
    )
    assert [u.reward_id for u in out.unlocked] == ["loved"]


def test_criteria_progress_labels_and_figures() -> None:
    s = starter_site()
    progress = UserProgress("g", behaviour_counts={"watch_video": VerbCount(2)}, earned={"xp": 95})
    assert criteria_progress(s, s.rewards["binge"], progress, NOW, "UTC") == [
        CriterionProgress("Watch Video", 2, 3, False)
    ]
    assert criteria_progress(s, s.rewards["silver"], progress, NOW, "UTC") == [
        CriterionProgress("XP", 80, 80, True)
    ]
    assert criteria_progress(s, s.rewards["starter"], progress, NOW, "UTC") == [
        CriterionProgress("Binge", 0, 1, False),
        CriterionProgress("Silver", 0, 1, False),
    ]


def test_classification_hidden_tags_and_window() -> None:
    s = site(
        point_types=[XP],
        behaviours=[simple("run")],
        rewards=[
            reward({"id": "open", "kind": "achievement", "criteria": [{"verb": "run", "times": 5}]}),
            reward(
                {
                    "id": "started",
                    "kind": "level",
                    "ladder": "l",
                    "criteria": [{"pointId": "xp", "points": 100}],
                }
            ),
            reward(
                {
                    "id": "secret",
                    "kind": "achievement",
                    "hidden": True,
                    "criteria": [{"verb": "run", "times": 1}],
                }
            ),
            reward(
                {
                    "id": "sales_only",
                    "kind": "achievement",
                    "tags": ["sales"],
                    "criteria": [{"verb": "run", "times": 9}],
                }
            ),
            reward(
                {
                    "id": "summer",
                    "kind": "achievement",
                    "availableFrom": "2026-06-01",
                    "availableTo": "2026-08-31",
                    "criteria": [{"verb": "run", "times": 9}],
                }
            ),
            reward(
                {
                    "id": "done",
                    "kind": "achievement",
                    "hidden": True,
                    "criteria": [{"verb": "run", "times": 1}],
                }
            ),
        ],
    )
    progress = UserProgress(
        "h", earned={"xp": 40}, rewards={"done": RewardRecord("done", (Completion(utc(2026, 3, 2)),))}
    )
    board = classify_rewards(s, progress, NOW, "UTC")
    assert [r.reward_id for r in board.completed] == ["done"]
    assert board.completed[0].completed_at == utc(2026, 3, 2)
    assert board.completed[0].criteria == [CriterionProgress("Run", 1, 1, True)]
    assert [r.reward_id for r in board.in_progress] == ["started"]
    assert [r.reward_id for r in board.available] == ["open"]
    sales = classify_rewards(s, UserProgress("h", tags=("sales",)), utc(2026, 7, 1), "UTC")
    assert [r.reward_id for r in sales.available] == ["open", "started", "sales_only", "summer"]


def test_tag_restricted_and_out_of_window_rewards_are_not_earned() -> None:
    s = site(
        behaviours=[simple("run")],
        rewards=[
            reward(
                {
                    "id": "sales_only",
                    "kind": "achievement",
                    "tags": ["sales"],
                    "criteria": [{"verb": "run", "times": 1}],
                }
            ),
            reward(
                {
                    "id": "summer",
                    "kind": "achievement",
                    "availableTo": "2026-03-09",
                    "criteria": [{"verb": "run", "times": 1}],
                }
            ),
        ],
    )
    progress = UserProgress("i", behaviour_counts={"run": VerbCount(1)})
    assert evaluate_rewards(s, progress, NOW, "UTC", changed_verbs=["run"]).unlocked == []
    tagged = UserProgress("i", tags=("sales",), behaviour_counts={"run": VerbCount(1)})
    assert [u.reward_id for u in evaluate_rewards(s, tagged, NOW, "UTC", changed_verbs=["run"]).unlocked] == [
        "sales_only"
    ]


# ---------------------------------------------------------------- reject


def completed_starter(at: dt.datetime) -> dict[str, RewardRecord]:
    return {
        "binge": RewardRecord("binge", (Completion(at, {"watch_video": 3}),)),
        "silver": RewardRecord("silver", (Completion(at),)),
        "starter": RewardRecord("starter", (Completion(at),)),
    }


def test_reject_revokes_what_no_longer_holds_cascading_to_the_mission() -> None:
    at = utc(2026, 3, 10, 12)
    # The third video is rejected: its verb count and its own 10 xp are already removed;
    # binge's 50 xp prize is still in `earned` until the revocation takes it back.
    progress = UserProgress(
        "alice",
        tags=("bingers",),
        behaviour_counts={"watch_video": VerbCount(2)},
        earned={"xp": 70},
        rewards=completed_starter(at),
    )
    out = revoke_after_reject(
        starter_site(), progress, at, utc(2026, 3, 11), "UTC", rejected_verb="watch_video"
    )
    assert [r.reward_id for r in out.revoked] == ["binge", "silver", "starter"]
    assert out.points == {"xp": 50}
    assert out.coupons == ["tshirt"]
    assert out.remove_tags == ["bingers"]
    assert out.progress.earned == {"xp": 20}
    assert out.progress.tags == ()
    assert out.progress.rewards["starter"].completions == ()


def test_reject_keeps_a_reward_a_later_activity_would_have_unlocked() -> None:
    at = utc(2026, 3, 10, 12)
    progress = UserProgress(
        "alice",
        behaviour_counts={"watch_video": VerbCount(3)},
        earned={"xp": 80},
        rewards=completed_starter(at),
    )
    out = revoke_after_reject(
        starter_site(), progress, at, utc(2026, 3, 11), "UTC", rejected_verb="watch_video"
    )
    assert out.revoked == []


def test_reject_of_an_activity_after_the_completion_revokes_nothing() -> None:
    at = utc(2026, 3, 10, 12)
    progress = UserProgress(
        "alice",
        behaviour_counts={"watch_video": VerbCount(2)},
        earned={"xp": 70},
        rewards=completed_starter(at),
    )
    out = revoke_after_reject(
        starter_site(),
        progress,
        at + dt.timedelta(hours=1),
        utc(2026, 3, 11),
        "UTC",
        rejected_verb="watch_video",
    )
    assert out.revoked == []


def test_reject_that_removes_the_points_behind_a_level_revokes_it() -> None:
    at = utc(2026, 3, 10, 12)
    # A 60 xp increment reached silver (80); rejecting it leaves 30.
    progress = UserProgress(
        "j", earned={"xp": 30}, rewards={"silver": RewardRecord("silver", (Completion(at),))}
    )
    out = revoke_after_reject(starter_site(), progress, at, utc(2026, 3, 11), "UTC")
    assert [r.reward_id for r in out.revoked] == ["silver"]


def test_reject_of_a_gift_revokes_its_badge_when_named() -> None:
    s = site(rewards=[reward({"id": "thanks", "kind": "gift", "prizes": {"points": []}})])
    at = utc(2026, 3, 10)
    progress = UserProgress("k", rewards={"thanks": RewardRecord("thanks", (Completion(at),))})
    out = revoke_after_reject(s, progress, at, NOW, "UTC", revoke=["thanks"])
    assert [r.reward_id for r in out.revoked] == ["thanks"]


def test_completion_stats_count_repeats_and_every_level_reached() -> None:
    s = ladder_site(False)
    now = utc(2026, 3, 10)
    records = {
        "bronze": RewardRecord("bronze", (Completion(utc(2025, 1, 1)),)),
        "silver": RewardRecord("silver", (Completion(utc(2025, 1, 2)),)),
        "gold": RewardRecord("gold", (Completion(now - dt.timedelta(hours=719)),)),
    }
    stats = completion_stats(s, UserProgress("l", rewards=records), now)
    assert stats["levels"] == CompletionStat(3, True)
    assert stats["rewards"] == CompletionStat(3, True)
    assert stats["achievements"] == CompletionStat(0, False)
    old = {k: v for k, v in records.items() if k != "gold"}
    assert completion_stats(s, UserProgress("l", rewards=old), now)["levels"] == CompletionStat(2, False)


def test_completion_stats_count_gift_badges_received_as_rewards() -> None:
    """domain.md: the Rewards stat counts completions of any kind; a gift reward received is one
    per gift (issue 18, defect 7: the stat said 4 where the tab listed 5 completed)."""
    s = site(rewards=[reward({"id": "thanks", "kind": "gift", "prizes": {"points": []}}),
                      reward({"id": "binge", "kind": "achievement", "criteria": [{"verb": "watch", "times": 1}]})])
    now = utc(2026, 3, 10)
    progress = UserProgress("g", rewards={"binge": RewardRecord("binge", (Completion(utc(2025, 1, 1)),))},
                            gifts_received={"thanks": 2, "gone": 1})  # "gone": a gift reward since deleted
    stats = completion_stats(s, progress, now)
    assert stats["rewards"] == CompletionStat(3, False)
    assert stats["achievements"] == CompletionStat(1, False)


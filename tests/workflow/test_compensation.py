"""A failure after some steps committed leaves nothing behind: FAILED means no effect."""

from __future__ import annotations

from typing import Any

import pytest

from tests.builders import give, wallet
from tests.conftest import Api, run

pytestmark = pytest.mark.usefixtures("game")


def test_a_behaviour_whose_rewards_cannot_be_settled_fails_with_nothing_applied(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """The behaviour and the rewards it unlocks are one commit: when the rewards cannot be
    settled, nothing of the behaviour was applied either (no compensation needed)."""
    from chalicelib.activities import rewards

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("rewards cannot be evaluated")

    give(api, "alice", "xp", 30)  # Silver (40 xp) is one video away: there are rewards to settle.
    monkeypatch.setattr(rewards, "unlock_for", broken)
    done = run(api, "acme", "alice", {"type": "behaviour", "verb": "watch_video", "metadata": {"category": "tv"}})
    assert done["status"] == "FAILED" and done["error"]["type"] == "InternalError", done
    xp = wallet("alice", "xp")
    assert (xp["balance"], xp["earned"], xp["entries"]) == (30, 30, 1), "only the grant: nothing was applied"
    monkeypatch.undo()
    # The user's next activity is not held up and counts from a clean slate.
    again = run(api, "acme", "alice", {"type": "behaviour", "verb": "watch_video"})
    assert again["status"] == "SUCCEEDED"
    assert again["result"]["awarded"]["rewards"] == ["silver"]
    assert wallet("alice", "xp")["balance"] == 40


def test_rewards_step_failing_for_good_undoes_a_gift(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.activities import rewards

    give(api, "alice", "coins", 20)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("rewards cannot be evaluated")

    # A gift badge always goes through the rewards step (missions may need it), after the gift's commit.
    monkeypatch.setattr(rewards, "process", broken)
    done = run(api, "acme", "alice", {"type": "gift", "targetUuid": "bob", "rewardId": "thanks",
                                      "points": [{"pointId": "coins", "points": 15}]})
    assert done["status"] == "FAILED", done
    a, b = wallet("alice", "coins"), wallet("bob", "coins")
    assert (a["balance"], a["spent"], b["balance"], b["earned"]) == (20, 0, 0, 0)

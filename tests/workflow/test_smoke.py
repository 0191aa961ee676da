from __future__ import annotations

import pytest

from tests.builders import configure
from tests.conftest import Api, run

pytestmark = pytest.mark.dates  # configure() dates its KPI target by the clock


def test_behaviour_through_the_real_state_machine(api: Api, site: str, workflow: str) -> None:
    configure(api, site)
    api.ok("POST", f"/sites/{site}/users", {"uuid": "alice"})
    done = run(api, site, "alice", {"type": "behaviour", "verb": "watch_video", "metadata": {"category": ["tv"]}})
    assert done["status"] == "SUCCEEDED", done
    assert done["result"]["awarded"]["points"] == [{"pointId": "xp", "points": 15}]

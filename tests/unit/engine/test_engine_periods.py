import datetime as dt

import pytest
from _engine_fixtures import utc

from chalicelib.engine.periods import (
    expiry_instant,
    last_n_periods,
    local_date,
    local_midnight_utc,
    period_bounds,
    period_bounds_of_date,
    period_instants,
    period_key,
)

D = dt.date


def test_day_is_the_local_calendar_day_not_the_utc_one() -> None:
    # 23:30 UTC on 1 March is 00:30 on 2 March in Berlin (UTC+1 in winter).
    assert period_bounds("day", utc(2026, 3, 1, 23, 30), "Europe/Berlin") == (D(2026, 3, 2), D(2026, 3, 2))
    assert period_bounds("day", utc(2026, 3, 1, 23, 30), "UTC") == (D(2026, 3, 1), D(2026, 3, 1))


def test_week_starting_monday_and_sunday() -> None:
    sunday = utc(2026, 11, 29, 12)
    assert period_bounds("week", sunday, "UTC", "monday") == (D(2026, 11, 23), D(2026, 11, 29))
    assert period_bounds("week", sunday, "UTC", "sunday") == (D(2026, 11, 29), D(2026, 12, 5))
    saturday = utc(2026, 11, 28, 12)
    assert period_bounds("week", saturday, "UTC", "sunday") == (D(2026, 11, 22), D(2026, 11, 28))
    assert period_key("weekly", sunday, "UTC", "sunday") == "week:2026-11-29"


def test_week_containing_dst_end_is_169_hours_long_in_london() -> None:
    # Clocks go back on Sunday 25 October 2026 in London.
    start, end = period_instants("week", D(2026, 10, 21), "Europe/London", "monday")
    assert start == utc(2026, 10, 18, 23)  # Monday 00:00 BST
    assert end == utc(2026, 10, 26, 0)  # next Monday 00:00 GMT
    assert end - start == dt.timedelta(hours=169)
    # The last hour of Sunday local time still belongs to that week.
    assert period_bounds("week", utc(2026, 10, 25, 23, 30), "Europe/London") == (
        D(2026, 10, 19),
        D(2026, 10, 25),
    )


def test_week_containing_dst_start_is_167_hours_long() -> None:
    start, end = period_instants("weekly", D(2026, 3, 29), "Europe/London", "monday")
    assert (start, end) == (utc(2026, 3, 23, 0), utc(2026, 3, 29, 23))
    assert end - start == dt.timedelta(hours=167)


@pytest.mark.parametrize(
    ("day", "bounds"),
    [
        (D(2026, 1, 1), (D(2026, 1, 1), D(2026, 3, 31))),
        (D(2026, 3, 31), (D(2026, 1, 1), D(2026, 3, 31))),
        (D(2026, 4, 1), (D(2026, 4, 1), D(2026, 6, 30))),
        (D(2026, 9, 30), (D(2026, 7, 1), D(2026, 9, 30))),
        (D(2026, 12, 31), (D(2026, 10, 1), D(2026, 12, 31))),
    ],
)
def test_quarter_boundaries(day: dt.date, bounds: tuple[dt.date, dt.date]) -> None:
    assert period_bounds_of_date("quarter", day) == bounds


def test_quarter_of_an_instant_depends_on_the_zone() -> None:
    instant = utc(2026, 3, 31, 23, 30)  # 00:30 on 1 April in London (BST)
    assert period_bounds("quarterly", instant, "Europe/London") == (D(2026, 4, 1), D(2026, 6, 30))
    assert period_bounds("quarterly", instant, "America/New_York") == (D(2026, 1, 1), D(2026, 3, 31))
    assert period_key("quarter", instant, "Europe/London") == "quarter:2026-Q2"


def test_month_and_year_bounds_and_keys() -> None:
    assert period_bounds_of_date("month", D(2028, 2, 10)) == (D(2028, 2, 1), D(2028, 2, 29))
    assert period_bounds_of_date("month", D(2026, 12, 10)) == (D(2026, 12, 1), D(2026, 12, 31))
    assert period_bounds_of_date("yearly", D(2026, 6, 1)) == (D(2026, 1, 1), D(2026, 12, 31))
    assert period_key("month", utc(2026, 12, 31, 23), "Asia/Tokyo") == "month:2027-01"
    assert period_key("year", utc(2026, 12, 31, 23), "Asia/Tokyo") == "year:2027"
    assert period_key("day", utc(2026, 12, 31, 23), "UTC") == "day:2026-12-31"


def test_current_and_four_before() -> None:
    months = last_n_periods("monthly", utc(2026, 1, 15), "UTC")
    assert [s for s, _ in months] == [
        D(2026, 1, 1),
        D(2025, 12, 1),
        D(2025, 11, 1),
        D(2025, 10, 1),
        D(2025, 9, 1),
    ]
    assert months[1] == (D(2025, 12, 1), D(2025, 12, 31))
    weeks = last_n_periods("weekly", utc(2026, 11, 29, 12), "UTC", "sunday", n=3)
    assert weeks == [
        (D(2026, 11, 29), D(2026, 12, 5)),
        (D(2026, 11, 22), D(2026, 11, 28)),
        (D(2026, 11, 15), D(2026, 11, 21)),
    ]


def test_midnight_swallowed_by_a_dst_gap_starts_the_day_at_the_transition() -> None:
    # Chile moves from 00:00 to 01:00 on 6 September 2026: the day starts at 01:00 local.
    start = local_midnight_utc(D(2026, 9, 6), "America/Santiago")
    assert start == utc(2026, 9, 6, 4)
    assert local_date(start, "America/Santiago") == D(2026, 9, 6)
    assert local_date(start - dt.timedelta(microseconds=1), "America/Santiago") == D(2026, 9, 5)


def test_expiry_is_local_midnight_n_days_after_the_earned_date() -> None:
    # Earned at 08:30 on 11 January in Tokyo; 30 days later at 00:00 JST is 15:00 UTC the day before.
    assert expiry_instant(utc(2026, 1, 10, 23, 30), 30, "Asia/Tokyo") == utc(2026, 2, 9, 15)


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError):
        local_date(dt.datetime(2026, 1, 1), "UTC")

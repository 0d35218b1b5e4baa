"""The dialing rules (cti.outbound.rules): calling hours in the callee's local time, the 24 h and
5-minute limits, the abandon lock-out and the do-not-call list, each at its edges."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cti.outbound.numbers import Dialable
from cti.outbound.refusal import Refusal, Rule
from cti.outbound.rules import CallingRules, Window, parse_calling_hours
from cti.settings import OutboundSettings

BEIJING = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
MOBILE = Dialable("+8613800138000", "CN", "13800138000", "mobile")
NEW_JERSEY = Dialable("+12015550123", "US", "2015550123", "fixed_line_or_mobile")
US_TOLL_FREE = Dialable("+18005550199", "US", "8005550199", "toll_free")  # anywhere in NANP
GUAM = ZoneInfo("Pacific/Guam")
RULES = CallingRules.from_settings(OutboundSettings(), "Asia/Shanghai")


def beijing(day: int, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, second, tzinfo=BEIJING)


def check(
    at: datetime,
    number: Dialable = MOBILE,
    calls: list[datetime] | None = None,
    abandoned: datetime | None = None,
    on_dnc: bool = False,
    rules: CallingRules = RULES,
) -> Refusal | None:
    return rules.check(number, at, recent_calls=calls or [], last_abandoned=abandoned, on_dnc=on_dnc)


@pytest.mark.parametrize(
    ("at", "allowed"),
    [
        (beijing(7, 7, 59, 59), False),
        (beijing(7, 8, 0), True),
        (beijing(7, 12, 0), True),
        (beijing(7, 20, 59), True),
        (beijing(7, 20, 59, 59), True),
        (beijing(7, 21, 0), False),
        (beijing(7, 21, 1), False),
        (beijing(7, 23, 30), False),
        (beijing(8, 0, 30), False),
    ],
)
def test_calling_hours_are_the_callees_local_time(at: datetime, allowed: bool) -> None:
    refusal = check(at.astimezone(UTC))  # the clock's zone does not matter
    assert (refusal is None) == allowed
    if refusal is not None:
        assert refusal.rule is Rule.CALLING_HOURS


def test_at_2101_beijing_the_retry_is_the_next_8_oclock_beijing() -> None:
    refusal = check(beijing(7, 21, 1).astimezone(UTC))
    assert refusal is not None
    assert refusal.retry_at == beijing(8, 8, 0)
    assert "21:01 in Asia/Shanghai" in refusal.reason
    assert "08:00-21:00" in refusal.reason
    assert MOBILE.national not in refusal.reason


def test_at_0759_the_retry_is_the_same_mornings_8_oclock() -> None:
    refusal = check(beijing(7, 7, 59))
    assert refusal is not None
    assert refusal.retry_at == beijing(7, 8, 0)


def test_a_us_number_is_judged_in_its_own_zone_not_the_centers() -> None:
    ten_am_in_new_york = datetime(2026, 12, 7, 10, 0, tzinfo=NEW_YORK)  # 23:00 in Beijing
    assert check(ten_am_in_new_york, NEW_JERSEY) is None
    refusal = check(datetime(2026, 12, 7, 21, 30, tzinfo=NEW_YORK), NEW_JERSEY)
    assert refusal is not None
    assert refusal.rule is Rule.CALLING_HOURS
    assert refusal.retry_at == datetime(2026, 12, 8, 8, 0, tzinfo=NEW_YORK)


def test_a_number_of_many_zones_is_called_only_while_every_zone_is_open() -> None:
    # US toll-free numbers ring anywhere from Guam (UTC+10) to Adak (UTC-10): at noon in New
    # York it is 03:00 in Guam; the first moment all are open is some zone's opening.
    noon_new_york = datetime(2026, 12, 7, 12, 0, tzinfo=NEW_YORK)
    refusal = check(noon_new_york, US_TOLL_FREE)
    assert refusal is not None
    assert refusal.rule is Rule.CALLING_HOURS
    assert "03:00 in Pacific/Guam" in refusal.reason
    assert refusal.retry_at == datetime(2026, 12, 7, 17, 0, tzinfo=NEW_YORK)  # 08:00 in Guam
    assert check(refusal.retry_at, US_TOLL_FREE) is None
    assert check(refusal.retry_at - timedelta(seconds=1), US_TOLL_FREE) is not None


def test_zones_whose_windows_never_meet_are_never_called() -> None:
    narrow = CallingRules(parse_calling_hours("09:00-12:00"), BEIJING, 5, 3, timedelta(hours=72))
    refusal = check(datetime(2026, 12, 7, 10, 0, tzinfo=GUAM), US_TOLL_FREE, rules=narrow)
    assert refusal is not None
    assert refusal.rule is Rule.CALLING_HOURS
    assert refusal.retry_at is None
    assert "never meet" in refusal.reason


def test_a_number_with_no_known_zone_is_judged_in_the_centers() -> None:
    unplaced = Dialable("+80012345678", "001", "12345678", "toll_free")  # international freephone
    assert check(beijing(7, 21, 1), unplaced) is not None
    assert check(beijing(7, 20, 59), unplaced) is None


NOON = beijing(7, 12, 0)


@pytest.mark.parametrize(
    ("ago_minutes", "allowed"),
    [
        ([60, 120, 180, 240], True),  # four in 24 h
        ([60, 120, 180, 240, 300], False),  # five: the limit
        ([60, 120, 180, 240, 24 * 60], True),  # the oldest is exactly 24 h old: out of the window
        ([60, 120, 180, 240, 24 * 60 - 1], False),
        ([1, 2], True),  # two in 5 minutes
        ([1, 2, 4], False),  # three in 5 minutes: the limit
        ([1, 2, 5], True),  # the third exactly 5 minutes old: out
        ([1, 2, 4.99], False),
    ],
)
def test_the_24h_and_5_minute_limits_at_their_edges(ago_minutes: list[float], allowed: bool) -> None:
    calls = [NOON - timedelta(minutes=m) for m in ago_minutes]
    assert (check(NOON, calls=calls) is None) == allowed


def test_a_refused_rate_retries_when_the_oldest_counted_call_leaves_the_window() -> None:
    calls = [NOON - timedelta(minutes=m) for m in (1, 2, 4)]
    refusal = check(NOON, calls=calls)
    assert refusal is not None
    assert refusal.rule is Rule.RATE_5MIN
    assert refusal.retry_at == NOON + timedelta(minutes=1)  # the call 4 minutes ago leaves at 5
    assert refusal.reason == "3 calls to this number in the last 5 minutes (at most 3)"
    day = [NOON - timedelta(hours=h) for h in (1, 2, 3, 4, 5)]
    refusal = check(NOON, calls=day)
    assert refusal is not None
    assert refusal.rule is Rule.RATE_24H
    assert refusal.retry_at == beijing(8, 8, 0)  # free at 07:00 tomorrow, before the window opens
    day = [NOON - timedelta(hours=h) for h in (1, 2, 3, 4, 20)]
    refusal = check(NOON, calls=day)
    assert refusal is not None
    assert refusal.retry_at == NOON + timedelta(hours=4)


def test_a_rate_that_frees_after_hours_retries_when_the_window_opens() -> None:
    late = beijing(7, 20, 58)
    refusal = check(late, calls=[late - timedelta(minutes=m) for m in (1, 2, 3)])
    assert refusal is not None
    assert refusal.rule is Rule.RATE_5MIN
    assert refusal.retry_at == beijing(8, 8, 0)  # free at 21:00, but the window closed then


def test_the_abandon_lockout_edge() -> None:
    abandoned = NOON - timedelta(hours=72)
    assert check(NOON, abandoned=abandoned) is None  # exactly 72 h later: allowed
    refusal = check(NOON - timedelta(seconds=1), abandoned=abandoned)
    assert refusal is not None
    assert refusal.rule is Rule.ABANDON_LOCKOUT
    assert refusal.retry_at == NOON
    no_lockout = CallingRules(RULES.hours, BEIJING, 5, 3, timedelta(0))
    assert check(NOON, abandoned=NOON, rules=no_lockout) is None


def test_a_lockout_that_ends_at_night_retries_at_the_next_opening() -> None:
    refusal = check(NOON, abandoned=beijing(4, 22, 0))
    assert refusal is not None
    assert refusal.rule is Rule.ABANDON_LOCKOUT
    assert refusal.retry_at == beijing(8, 8, 0)


def test_the_do_not_call_list_is_never_cured_by_waiting() -> None:
    assert check(NOON, on_dnc=True) == Refusal(Rule.DNC, "on the do-not-call list")
    refusal = check(beijing(7, 22, 0), on_dnc=True, abandoned=NOON)
    assert refusal is not None
    assert (refusal.rule, refusal.retry_at) == (Rule.DNC, None)


def test_every_rule_broken_at_once_names_the_first_and_retries_when_all_allow() -> None:
    at = beijing(7, 22, 0)
    calls = [at - timedelta(minutes=m) for m in (1, 2, 3, 10, 20)]
    refusal = check(at, calls=calls, abandoned=beijing(7, 9, 0))
    assert refusal is not None
    assert refusal.rule is Rule.ABANDON_LOCKOUT
    assert refusal.retry_at == beijing(10, 9, 0)  # the lock-out ends last, in the window


@pytest.mark.parametrize(
    ("text", "windows"),
    [
        ("08:00-21:00", (Window(480, 1260),)),
        ("13:30-21:00, 8:00-12:00", (Window(480, 720), Window(810, 1260))),
        ("00:00-24:00", (Window(0, 1440),)),
    ],
)
def test_calling_hours_are_read(text: str, windows: tuple[Window, ...]) -> None:
    assert parse_calling_hours(text) == windows


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("8-21", "is not HH:MM-HH:MM"),
        ("08:00-25:00", "no time of day"),
        ("24:00-24:00", "no time of day"),
        ("08:60-21:00", "no time of day"),
        ("21:00-08:00", "ends before it starts"),
        ("08:00-21:00,", "is not HH:MM-HH:MM"),
    ],
)
def test_bad_calling_hours_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_calling_hours(text)


def test_split_windows_retry_at_the_afternoon_opening() -> None:
    rules = CallingRules(parse_calling_hours("08:00-12:00,13:30-21:00"), BEIJING, 5, 3, timedelta(0))
    refusal = check(beijing(7, 12, 15), rules=rules)
    assert refusal is not None
    assert refusal.retry_at == beijing(7, 13, 30)
    assert check(beijing(7, 11, 59), rules=rules) is None


@pytest.mark.parametrize(
    ("campaign", "windows"),
    [
        (None, (Window(480, 1260),)),
        ("09:00-18:00", (Window(540, 1080),)),
        ("06:00-22:00", (Window(480, 1260),)),  # never beyond the center's
        ("07:00-09:00,12:00-13:00,20:00-23:00", (Window(480, 540), Window(720, 780), Window(1200, 1260))),
        ("21:00-23:00", ()),
    ],
)
def test_a_campaigns_calling_hours_stay_inside_the_centers(
    campaign: str | None, windows: tuple[Window, ...]
) -> None:
    assert RULES.within(campaign).hours == windows


def test_a_campaign_with_no_hours_left_is_refused_and_never_retried() -> None:
    refusal = check(NOON, rules=RULES.within("21:00-23:00"))
    assert refusal is not None
    assert (refusal.rule, refusal.retry_at) == (Rule.CALLING_HOURS, None)
    assert "(none)" in refusal.reason


def test_the_window_opens_at_8_local_across_a_daylight_saving_change() -> None:
    # New York moves its clocks forward at 02:00 on 2026-03-08: 08:00 that day is 12:00 UTC.
    refusal = check(datetime(2026, 3, 7, 21, 30, tzinfo=NEW_YORK), NEW_JERSEY)
    assert refusal is not None
    assert refusal.retry_at == datetime(2026, 3, 8, 8, 0, tzinfo=NEW_YORK)
    assert refusal.retry_at.astimezone(UTC) == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)

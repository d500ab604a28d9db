import json
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ltc.clock import (
    UnknownCalendarYear,
    WorkingCalendar,
    library_years,
    load_holiday_overrides,
    working_days_after,
)
from ltc.notices.rules import (
    COMPOUND_SURNAMES,
    DayKind,
    EntryOutcome,
    NoticeBatchState,
    NoticePeriod,
    age_on,
    batch_due_to_close,
    mask_name,
    notice_period,
    objection_open,
)

HOLIDAYS_FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "holidays.json"
LIBRARY = WorkingCalendar()  # chinesecalendar only
NOT_KNOWN = 2035  # neither shipped by chinesecalendar nor overridden


def d(text: str) -> date:
    return date.fromisoformat(text)


# --- names -------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张*"),
        ("张三丰", "张**"),
        ("张三丰子", "张***"),
        ("张三丰子明", "张****"),
        ("欧阳娜娜", "欧阳**"),
        ("欧阳娜", "欧阳*"),
        ("司马", "司*"),  # a whole name equal to a compound surname still hides something
        ("欧阳", "欧*"),
        ("张", "*"),
        ("阿卜杜·热合曼", "阿**·***"),
        ("买买提·艾力", "买**·**"),
        ("司马·热合曼", "司*·***"),  # transliterated: first character only, even if it looks 复姓
        ("  张三  ", "张*"),
        ("\u3000李四丰\t\n", "李**"),  # full-width space too
        (" 欧阳娜娜 ", "欧阳**"),
    ],
)
def test_names_are_masked_for_public_notices(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize("surname", COMPOUND_SURNAMES)
def test_every_compound_surname_is_kept_whole(surname: str) -> None:
    assert mask_name(surname + "某某") == surname + "**"
    assert mask_name(surname) == surname[0] + "*"


def test_the_common_compound_surnames_are_all_listed() -> None:
    common = ("欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 司空 夏侯 令狐 轩辕 "
              "端木 独孤 南宫 西门 百里 呼延 申屠 万俟 闻人 澹台 公冶 太史 钟离 拓跋 第五").split()
    assert set(common) <= set(COMPOUND_SURNAMES)
    assert len(set(COMPOUND_SURNAMES)) == len(COMPOUND_SURNAMES)
    assert all(len(surname) == 2 for surname in COMPOUND_SURNAMES)


@pytest.mark.parametrize("name", ["", "   ", "\u3000", "·", " · "])
def test_an_empty_name_cannot_be_masked(name: str) -> None:
    with pytest.raises(ValueError):
        mask_name(name)


CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
GIVEN = st.text(alphabet=st.one_of(CJK, st.just("·")), min_size=0, max_size=10)
NAMES = st.one_of(
    st.text(alphabet=st.one_of(CJK, st.just("·")), min_size=1, max_size=12),
    st.builds(lambda surname, rest: surname + rest, st.sampled_from(COMPOUND_SURNAMES), GIVEN),
).filter(lambda name: name.strip("·") != "")


@given(NAMES, st.sampled_from(["", " ", "\u3000", "\t"]))
def test_masking_keeps_length_and_reveals_nothing_but_the_surname(
    name: str, padding: str,
) -> None:
    masked = mask_name(padding + name + padding)
    assert len(masked) == len(name)
    plain = "·" not in name
    compound = plain and len(name) > 2 and name[:2] in COMPOUND_SURNAMES
    kept = 0 if len(name) == 1 else 2 if compound else 1
    assert masked[:kept] == name[:kept]
    for original, shown in zip(name[kept:], masked[kept:], strict=True):
        assert shown == ("·" if original == "·" else "*")


# --- age ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("birth", "on", "age"),
    [
        ("1950-06-15", "2026-06-15", 76),  # birthday today
        ("1950-06-15", "2026-06-14", 75),  # the day before
        ("1950-06-15", "2026-06-16", 76),
        ("1950-06-15", "1950-06-15", 0),
        ("1950-12-31", "2026-01-01", 75),
        ("1952-02-29", "2026-02-28", 73),  # born 29 Feb, common year: not yet
        ("1952-02-29", "2026-03-01", 74),
        ("1952-02-29", "2024-02-29", 72),
        ("1952-02-29", "2024-02-28", 71),
    ],
)
def test_age_is_counted_in_full_years(birth: str, on: str, age: int) -> None:
    assert age_on(d(birth), d(on)) == age


def test_age_before_birth_is_refused() -> None:
    with pytest.raises(ValueError):
        age_on(d("2000-01-02"), d("2000-01-01"))


# --- calendar ----------------------------------------------------------------------------------

def test_chinesecalendar_ships_2026_but_not_2027() -> None:
    # If this fails after upgrading chinesecalendar, check fixtures/holidays.json: its
    # placeholder for a year the library now knows takes precedence and must be replaced.
    assert 2026 in library_years()
    assert 2027 not in library_years()


@pytest.mark.parametrize(
    ("day", "working"),
    [
        ("2026-09-30", True),  # Wednesday before National Day
        ("2026-10-01", False),
        ("2026-10-07", False),  # last day of the Golden Week (Wednesday)
        ("2026-10-08", True),
        ("2026-10-10", True),  # Saturday, adjusted working day (调休上班)
        ("2026-10-11", False),
        ("2026-09-20", True),  # Sunday, adjusted working day
        ("2026-02-14", True),  # Saturday before the Spring Festival
        ("2026-02-16", False),  # 除夕 (Monday)
        ("2026-03-07", False),  # an ordinary Saturday
    ],
)
def test_library_calendar_knows_2026_holidays_and_adjusted_weekends(
    day: str, working: bool,
) -> None:
    assert LIBRARY.is_working_day(d(day)) is working


@pytest.mark.parametrize("day", [f"{NOT_KNOWN}-03-05", f"{NOT_KNOWN}-03-03", "2003-06-02"])
def test_a_year_nobody_knows_is_an_error_not_a_guess(day: str) -> None:
    with pytest.raises(UnknownCalendarYear) as error:
        LIBRARY.is_working_day(d(day))
    assert error.value.year == d(day).year
    assert str(d(day).year) in str(error.value)
    assert not LIBRARY.covers_year(d(day).year)


@pytest.mark.parametrize(
    ("overrides", "override_years", "day", "working"),
    [
        # an entry beats the library, both ways
        ({d("2026-10-01"): True}, frozenset(), "2026-10-01", True),
        ({d("2026-10-10"): False}, frozenset(), "2026-10-10", False),
        ({d("2026-10-01"): True}, frozenset(), "2026-10-02", False),  # neighbours untouched
        # a listed year is overrides + weekend rule, even if the library knows it
        ({}, frozenset({2026}), "2026-10-01", True),
        ({}, frozenset({2026}), "2026-10-10", False),
        # a year the library does not know
        ({d(f"{NOT_KNOWN}-03-05"): False}, frozenset({NOT_KNOWN}), f"{NOT_KNOWN}-03-05", False),
        ({d(f"{NOT_KNOWN}-03-03"): True}, frozenset({NOT_KNOWN}), f"{NOT_KNOWN}-03-03", True),
        ({}, frozenset({NOT_KNOWN}), f"{NOT_KNOWN}-03-06", True),  # Tuesday
        ({}, frozenset({NOT_KNOWN}), f"{NOT_KNOWN}-03-04", False),  # Sunday
        # an entry answers for its own date even if its year is not listed
        ({d(f"{NOT_KNOWN}-03-05"): False}, frozenset(), f"{NOT_KNOWN}-03-05", False),
    ],
)
def test_overrides_take_precedence(
    overrides: dict[date, bool], override_years: frozenset[int], day: str, working: bool,
) -> None:
    calendar = WorkingCalendar(overrides, override_years)
    assert calendar.is_working_day(d(day)) is working


def test_a_single_entry_does_not_make_its_year_known() -> None:
    calendar = WorkingCalendar({d(f"{NOT_KNOWN}-01-01"): False})
    with pytest.raises(UnknownCalendarYear):
        calendar.is_working_day(d(f"{NOT_KNOWN}-01-02"))
    assert not calendar.covers_year(NOT_KNOWN)
    assert WorkingCalendar(override_years=frozenset({NOT_KNOWN})).covers_year(NOT_KNOWN)


def test_datetimes_are_read_as_their_date() -> None:
    calendar = WorkingCalendar({d("2026-10-01"): True})
    assert calendar.is_working_day(datetime(2026, 10, 1, 9, 30)) is True


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        ("2026-09-30", 1, "2026-10-08"),  # across the National Day Golden Week
        ("2026-09-30", 3, "2026-10-10"),  # the adjusted working Saturday counts
        ("2026-09-30", 10, "2026-10-20"),  # "re-assessment within 10 working days"
        ("2026-09-18", 1, "2026-09-20"),  # Friday → the adjusted working Sunday
        ("2026-09-24", 1, "2026-09-28"),  # Mid-Autumn Friday, then the weekend
        ("2026-03-02", 1, "2026-03-03"),  # ordinary Monday
        ("2026-03-06", 1, "2026-03-09"),  # ordinary Friday → Monday
        ("2026-03-07", 1, "2026-03-09"),  # start on a rest day: it never counts anyway
    ],
)
def test_working_days_after(start: str, n: int, expected: str) -> None:
    assert working_days_after(d(start), n, LIBRARY) == d(expected)


def test_working_days_after_needs_at_least_one_day() -> None:
    with pytest.raises(ValueError):
        working_days_after(d("2026-03-02"), 0, LIBRARY)


def test_working_days_cross_into_an_overridden_year() -> None:
    calendar = WorkingCalendar({d("2027-01-01"): False}, frozenset({2027}))
    # 2026-12-31 is a Thursday; 1 Jan 2027 a holiday (Friday), then the weekend.
    assert working_days_after(d("2026-12-31"), 1, calendar) == d("2027-01-04")
    with pytest.raises(UnknownCalendarYear):
        working_days_after(d("2026-12-31"), 1, LIBRARY)


# --- the override file -------------------------------------------------------------------------

def test_the_shipped_override_file_loads_and_covers_its_years() -> None:
    overrides, years = load_holiday_overrides(HOLIDAYS_FIXTURE)
    assert years, "the file should cover at least the year after the library's last"
    calendar = WorkingCalendar(overrides, years)
    for year in years:
        assert calendar.covers_year(year)
        assert overrides[date(year, 1, 1)] is False  # 元旦
        assert overrides[date(year, 10, 1)] is False  # 国庆节
        assert any(working for day, working in overrides.items() if day.year == year), (
            "every year has adjusted working days (调休上班)")
    assert "placeholder" in json.loads(HOLIDAYS_FIXTURE.read_text("utf-8"))["source"].lower()


@pytest.mark.parametrize(
    "content",
    [
        '{"years": [2027], "days": {"2027-13-01": "holiday"}}',  # impossible date
        '{"years": [2027], "days": {"20270101": "holiday"}}',  # not YYYY-MM-DD
        '{"years": [2027], "days": {"2027-W01-1": "holiday"}}',
        '{"years": [2027], "days": {"2027-01-01": "rest"}}',  # unknown kind
        '{"years": [2027], "days": {"2027-01-01": "holiday", "2027-01-01": "working"}}',
        '{"years": [2027, 2028], "days": {"2027-01-01": "holiday"}}',  # 2028 has no entries
        '{"years": "2027", "days": {"2027-01-01": "holiday"}}',
        '{"years": [2027], "days": [["2027-01-01", "holiday"]]}',
        '["2027-01-01"]',
    ],
)
def test_a_malformed_override_file_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "holidays.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError):
        load_holiday_overrides(path)


def test_an_override_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "holidays.json"
    path.write_text(json.dumps({"source": "test", "years": [NOT_KNOWN], "days": {
        f"{NOT_KNOWN}-01-01": "holiday", f"{NOT_KNOWN}-01-06": "working"}}), encoding="utf-8")
    overrides, years = load_holiday_overrides(str(path))
    assert overrides == {date(NOT_KNOWN, 1, 1): False, date(NOT_KNOWN, 1, 6): True}
    assert years == frozenset({NOT_KNOWN})


# --- notice periods ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("published", "days", "starts", "ends"),
    [
        ("2026-03-01", 7, "2026-03-02", "2026-03-08"),
        ("2026-03-01", 1, "2026-03-02", "2026-03-02"),
        ("2026-01-28", 7, "2026-01-29", "2026-02-04"),  # across a month end
        ("2026-02-25", 7, "2026-02-26", "2026-03-04"),  # February, common year
        ("2024-02-25", 7, "2024-02-26", "2024-03-03"),  # February, leap year
        ("2026-12-28", 7, "2026-12-29", "2027-01-04"),  # across a year end
        ("2026-09-30", 7, "2026-10-01", "2026-10-07"),  # calendar days ignore holidays
        ("2026-03-01", 60, "2026-03-02", "2026-04-30"),
        (f"{NOT_KNOWN}-03-01", 7, f"{NOT_KNOWN}-03-02", f"{NOT_KNOWN}-03-08"),  # no calendar needed
    ],
)
def test_calendar_day_periods_start_the_day_after_publication(
    published: str, days: int, starts: str, ends: str,
) -> None:
    period = notice_period(d(published), days, "calendar", LIBRARY)
    assert period == NoticePeriod(starts_on=d(starts), ends_on=d(ends))
    assert period.published_on == d(published)


@pytest.mark.parametrize(
    ("published", "days", "starts", "ends"),
    [
        ("2026-09-30", 5, "2026-10-01", "2026-10-13"),  # Golden Week, then Sat 10 Oct works
        ("2026-09-30", 7, "2026-10-01", "2026-10-15"),
        ("2026-09-29", 2, "2026-09-30", "2026-10-08"),
        ("2026-09-18", 2, "2026-09-19", "2026-09-21"),  # Sun 20 Sep is an adjusted working day
        ("2026-02-13", 1, "2026-02-14", "2026-02-14"),  # Sat 14 Feb is an adjusted working day
        ("2026-02-13", 2, "2026-02-14", "2026-02-24"),  # … then the Spring Festival
        ("2026-03-06", 5, "2026-03-07", "2026-03-13"),  # ordinary weeks
    ],
)
def test_working_day_periods_skip_holidays_and_count_adjusted_weekends(
    published: str, days: int, starts: str, ends: str,
) -> None:
    period = notice_period(d(published), days, DayKind.WORKING, LIBRARY)
    assert period == NoticePeriod(starts_on=d(starts), ends_on=d(ends))


def test_working_day_periods_in_an_unknown_year_are_an_error() -> None:
    with pytest.raises(UnknownCalendarYear):
        notice_period(d(f"{NOT_KNOWN}-03-01"), 5, "working", LIBRARY)


@pytest.mark.parametrize("days", [0, -1, 61, 365])
def test_notice_length_must_be_1_to_60_days(days: int) -> None:
    with pytest.raises(ValueError):
        notice_period(d("2026-03-01"), days, "calendar", LIBRARY)


@pytest.mark.parametrize(("days", "day_kind"), [(True, "calendar"), (7, "natural"), (7, "")])
def test_notice_period_arguments_are_checked(days: int, day_kind: str) -> None:
    with pytest.raises(ValueError):
        notice_period(d("2026-03-01"), days, day_kind, LIBRARY)


def test_a_period_cannot_end_before_it_starts() -> None:
    with pytest.raises(ValueError):
        NoticePeriod(starts_on=d("2026-03-02"), ends_on=d("2026-03-01"))


PERIOD = NoticePeriod(starts_on=d("2026-03-02"), ends_on=d("2026-03-08"))  # published 1 March


@pytest.mark.parametrize(
    ("today", "is_open"),
    [
        ("2026-02-28", False),  # before publication
        ("2026-03-01", True),  # publication day: objections already accepted
        ("2026-03-02", True),
        ("2026-03-08", True),  # last day, inclusive
        ("2026-03-09", False),
    ],
)
def test_objections_are_accepted_from_publication_through_the_last_day(
    today: str, is_open: bool,
) -> None:
    assert objection_open(PERIOD, d(today)) is is_open


@pytest.mark.parametrize(
    ("today", "due"),
    [("2026-03-01", False), ("2026-03-07", False), ("2026-03-08", False), ("2026-03-09", True),
     ("2026-04-01", True)],
)
def test_a_batch_closes_only_after_its_last_day(today: str, due: bool) -> None:
    assert batch_due_to_close(d("2026-03-08"), d(today)) is due


# --- states ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("state", "label"),
    [(NoticeBatchState.DRAFT, "草稿"), (NoticeBatchState.PUBLISHED, "公示中"),
     (NoticeBatchState.CLOSED, "已结束"),
     (EntryOutcome.PENDING, "公示中"), (EntryOutcome.NO_OBJECTION, "无异议"),
     (EntryOutcome.OBJECTED, "有异议，重新评估"), (EntryOutcome.WITHDRAWN, "已撤回"),
     (DayKind.CALENDAR, "自然日"), (DayKind.WORKING, "工作日")],
)
def test_states_have_chinese_labels(
    state: NoticeBatchState | EntryOutcome | DayKind, label: str,
) -> None:
    assert state.label == label
    assert type(state)(str(state)) is state  # stored as its value, read back the same

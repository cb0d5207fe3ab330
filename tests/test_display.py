"""Stored names as the command line prints them."""

from __future__ import annotations

from casework.display import counted, plain, quoted, shown


def test_control_and_bidirectional_characters_are_shown_as_escapes() -> None:
    assert shown("a\x1b]52;c;cHduZWQ=\x07b") == "a\\x1b]52;c;cHduZWQ=\\x07b"
    assert shown("invoice\u202egnp.exe") == "invoice\\u202egnp.exe"
    assert shown("Ärger – naïve 日本 👩‍⚕️") == "Ärger – naïve 日本 👩‍⚕️"  # letters, dashes and emoji stay
    # What does not show in a name is escaped: a name stored before names were checked reads as what it holds.
    assert shown("bo\u200bb \ufeffann bo\u200db") == "bo\\u200bb \\ufeffann bo\\u200db"


def test_a_cell_is_never_read_as_markup() -> None:
    assert plain("Pay [/bold] [red]now").plain == "Pay [/bold] [red]now"


def test_quoted_cuts_a_long_value_to_its_start_and_says_how_long_it_was() -> None:
    assert quoted("yesterday") == "'yesterday'"
    assert quoted("z" * 80) == repr("z" * 80)
    assert quoted("z" * 81) == f"{'z' * 80!r}... (81 characters)"
    assert quoted("ab'c" * 10, limit=3) == "\"ab'\"... (40 characters)"


def test_the_events_a_change_wrote_are_numbered_and_runs_of_one_type_counted() -> None:
    from casework.display import events_written

    assert events_written(28, ["reassign"]) == "event 28: reassign"
    assert events_written(31, ["variables_set", "item_transition", "item_transition"]) == (
        "events 29-31: variables_set, item_transition x2")
    # ending a case ends each of its items: eleven transitions are one run, not eleven words
    assert events_written(55, ["item_transition"] * 11) == "events 45-55: item_transition x11"
    assert events_written(4, ["a", "b", "a"]) == "events 2-4: a, b, a"  # runs, in order: not a tally


def test_a_share_reads_as_neither_0_nor_100_percent_unless_it_is() -> None:
    from casework.display import percent_text

    assert [percent_text(n, 200) for n in (0, 1, 2, 199, 200)] == ["0%", "<1%", "1%", ">99%", "100%"]
    # 1 of 200 is 0.5%: formatted, it rounds half to even, to "0%"
    assert percent_text(1, 300) == "<1%" and percent_text(0.005, 1) == "<1%"


def test_a_count_says_one_thing_or_several() -> None:
    assert counted(1, "transaction") == "1 transaction"
    assert [counted(n, "page") for n in (0, 2, 20_000)] == ["0 pages", "2 pages", "20,000 pages"]

"""Reading short answers to the bot's numbered lists and offered times."""
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.language import answers

LA = ZoneInfo("America/Los_Angeles")
NOW = datetime(2027, 3, 1, 9, 0, tzinfo=LA)  # Monday
OFFERS = [datetime(2027, 3, 4, 9, 30, tzinfo=LA), datetime(2027, 3, 5, 13, 0, tzinfo=LA),
          datetime(2027, 3, 8, 8, 0, tzinfo=LA)]


@pytest.mark.parametrize("text, index", [
    ("2", 1), ("#3", 2), ("option 1", 0), ("2 please", 1), ("the second one", 1), ("first", 0),
    ("the last one", 2), ("the 9:30", 0), ("the 1:00 one", 1), ("the thursday one", 0),
    ("friday at 1", 1), ("4", None), ("the fourth one", None), ("whenever", None),
])
def test_pick_choice_reads_numbers_ordinals_days_and_times(text, index):
    assert answers.pick_choice(text, OFFERS, NOW) == index


def test_a_clock_time_wins_over_an_ordinal_word():
    # "first" in "first thing, the 9:30" is not the first offer but the 9:30 one
    offers = [OFFERS[1], OFFERS[0]]
    assert answers.pick_choice("the 9:30 works first thing", offers, NOW) == 1


@pytest.mark.parametrize("text, count, index", [
    ("2", 3, 1), ("number 3 please", 3, 2), ("the second one", 2, 1), ("last", 3, 2),
    ("5", 3, None), ("third", 2, None), ("emma", 3, None),
])
def test_pick_numbered_reads_positions_in_a_list(text, count, index):
    assert answers.pick_numbered(text, count) == index


@pytest.mark.parametrize("text, index", [("one", 0), ("two please", 1), ("the second one", 1), ("last one", 2)])
def test_number_words_count_only_when_no_ordinal_does(text, index):
    assert answers.pick_numbered(text, 3) == index


@pytest.mark.parametrize("text, answer", [
    ("Sí", True), ("si", True), ("SI!", True), ("claro", True), ("Claro que sí", True), ("dale", True), ("Y", True),
    ("sí, por favor", True), ("no", False), ("No.", False), ("N", False), ("nel", False), ("no gracias", False),
    ("si pero el jueves", None), ("no puedo", None), ("sí, y también mi hijo", None), ("cancelar", None), ("", None),
])
def test_a_bare_yes_or_no_is_read_in_either_language_and_anything_more_is_left_to_the_nlu(text, answer):
    assert answers.bare_yes_or_no(text) is answer

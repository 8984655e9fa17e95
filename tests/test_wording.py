"""Every text in every language: filled with worst-case values it fits two SMS segments, and the catalogs agree.

Also: the conversation's language comes from the patient's record, every kind of text (assistant replies,
channel texts, reminders, recall, waitlist offers) is written in it, and a language without a catalog reads
English.
"""
import ast
import re
import types
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import wording
from bot.models import Appointment, OutboundMessage, Patient, Practice
from bot.practice import MAX_LATE_POLICY
from bot.settings import ROOT
from bot.wording.formatting import en
from bot.wording.texts import gsm7_length, segments

DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text())
ZONE = ZoneInfo("America/Los_Angeles")
START = datetime(2027, 9, 29, 12, 45, tzinfo=ZONE)  # a Wednesday: the longest clock and a long provider
PROVIDER = "Maria Lopez, NP"
WEEK = {"mon": (time(8), time(17)), "tue": (time(8), time(17)), "wed": (time(8), time(17)),
        "thu": (time(8), time(19)), "fri": (time(8), time(16)), "sat": (time(9), time(12)), "sun": None}
HOLIDAYS = [(date(2026, 11, 26), "Thanksgiving"), (date(2026, 12, 25), "Christmas Day"),
            (date(2027, 1, 1), "New Year's Day"), (date(2027, 5, 31), "Memorial Day")]

# Texts allowed a third segment (never more) once filled, "language/name", each with why.
_SAFETY_IN_SPANISH = "the 911/988 advice in full, with 988's Spanish line (oprima 2): never shortened"
LONGER_THAN_TWO_SEGMENTS: dict[str, str] = {
    "es/utter_emergency": _SAFETY_IN_SPANISH,
    "es/utter_emergency_on_call": _SAFETY_IN_SPANISH + ", and the on-call callback",
    "es/utter_clarify": "five examples of what to text, with accents (UCS-2): fewer would help less",
    "es/holding_reply": "the practice's name, the team, when, its phone and 911, with accents (UCS-2)",
    "es/utter_handoff": "the team's Spanish name and the answer time, with accents (UCS-2)",
}
SATURDAY = datetime(2027, 10, 2, 12, 45, tzinfo=ZONE)  # "sábado" has an á: it must not push a text past 3


def examples(language: str, start: datetime = START) -> dict[str, str]:
    """Realistic worst-case values for every placeholder, phrased by the language's own formatting."""
    say = wording.words(language)
    slot = say.slot(start, PROVIDER)
    team = {"es": "nuestra enfermera de guardia"}.get(language, "our clinical team")  # the longest team name
    return {
        "practice_name": "Northwest Family Medicine & Pediatrics",
        "practice_phone": "(503) 555-0100",
        "fax": "(503) 555-0101",
        "address": "1200 River Road, Suite 300, Portland, OR 97201",
        "parking": "Free parking in the garage under the building; bring your ticket to the front desk.",
        "hours": say.office_hours(WEEK),
        "holidays": say.holidays(HOLIDAYS),
        "appointment": slot,
        "appointments": say.listing(say.for_patient(name, slot) for name in ("Alexandria", "Sebastian", "Emma")),
        "choices": say.numbered([slot] * 3),
        "preference": say.wish(start, start.replace(hour=23), a_moment=False, within_a_day=True),
        "first_name": "Alexandria",
        "code": "482913",
        "team": team,
        "team_capitalised": say.capitalised(team),
        "answer_time": say.answer_by(start, date(2027, 9, 19) if start == START else date(2027, 9, 29)),
        "visit": say.visit("Comprehensive periodontal evaluation", False),
        "with_provider": say.with_provider(PROVIDER),
        "minutes": "120",
        "late_policy": "x" * MAX_LATE_POLICY,  # the longest a practice file may give (bot/practice.py)
        "callback": wording.render("on_call_callback", language, team_capitalised="Our on-call nurse", minutes=120),
        "link": "https://inbox.northwestfamilymedicine.example.org/inbox/tickets/123456",
    }


# A family's reminder lists as many appointments as fit 320 characters (reminder_text splits the rest,
# tests/test_reminders.py), so its worst case is two of the longest.
OVERRIDES = {"reminder_family": lambda say, start: {"appointments": say.listing(
    [say.reminder_item("Alexandria", say.slot(start, PROVIDER))] * 2)}}


def filled(language: str, name: str, start: datetime = START) -> str:
    values = examples(language, start)
    if name in OVERRIDES:
        values.update(OVERRIDES[name](wording.words(language), start))
    return wording.render(name, language, **values)


def every_text():
    for language in wording.LANGUAGES:
        for name in wording.catalog(language):
            yield language, name


@pytest.mark.parametrize("start", [START, SATURDAY], ids=["wednesday", "saturday"])
@pytest.mark.parametrize("language, name", list(every_text()))
def test_every_text_fits_two_segments_when_filled(language, name, start):
    text = filled(language, name, start)
    assert "{" not in text and "}" not in text, f"{language}/{name} left a placeholder: {text!r}"
    septets = gsm7_length(text)
    assert len(text) <= 320 and (septets is None or septets <= 320), f"{language}/{name}: {len(text)}: {text!r}"
    encoding, count = segments(text)
    allowed = 3 if f"{language}/{name}" in LONGER_THAN_TWO_SEGMENTS else 2
    assert count <= allowed, f"{language}/{name} needs {count} {encoding} segments: {text!r}"


def test_every_text_allowed_a_third_segment_exists_and_needs_it():
    for key in LONGER_THAN_TWO_SEGMENTS:
        language, name = key.split("/")
        assert max(segments(filled(language, name, start))[1] for start in (START, SATURDAY)) == 3, key


def test_segments_are_counted_as_carriers_count_them():
    assert segments("a" * 160) == ("GSM-7", 1)
    assert segments("a" * 161) == ("GSM-7", 2)
    assert segments("a" * 306) == ("GSM-7", 2)
    assert segments("a" * 307) == ("GSM-7", 3)
    assert segments("{" * 80) == ("GSM-7", 1)  # an extended character counts twice
    assert segments("é" * 160) == ("GSM-7", 1)  # é is in the basic set
    assert segments("ó" * 70) == ("UCS-2", 1)
    assert segments("ó" * 71) == ("UCS-2", 2)
    assert segments("ó" * 135) == ("UCS-2", 3)


@pytest.mark.parametrize("language, name", list(every_text()))
def test_no_text_asks_a_patient_to_reply_cancel(language, name):
    assert not re.search(r"\b(reply|text|send)\s+[\"']?cancel\b", wording.catalog(language)[name], re.I), name


@pytest.mark.parametrize("language, name", list(every_text()))
def test_no_text_uses_markdown(language, name):
    assert not re.search(r"\*\*|__|\[[^\]]+\]\(", wording.catalog(language)[name]), name


def test_domain_declares_responses_without_words_or_buttons():
    """The words are the catalog's: a variation in domain.yml would be a second catalog."""
    for name, variants in DOMAIN["responses"].items():
        assert variants == [], f"{name} has words in domain.yml: move them to bot/wording/catalog/"


@pytest.mark.parametrize("language", list(wording.LANGUAGES))
def test_the_channel_and_the_assistant_give_the_same_emergency_advice(language):
    """The channel answers an emergency itself while staff have the conversation (Rasa is paused);
    the patient must get the same 911/988 advice either way."""
    texts = wording.catalog(language)
    assert texts["utter_emergency"].startswith(texts["emergency"])


# --- The catalogs agree -------------------------------------------------------------------

def test_every_catalog_file_is_a_registered_language_and_back():
    files = {path.stem for path in wording.CATALOG_DIR.glob("*.yml")}
    assert files == set(wording.LANGUAGES)


@pytest.mark.parametrize("language", list(wording.LANGUAGES))
def test_every_language_has_the_english_keys_and_placeholders(language):
    english, other = wording.catalog("en"), wording.catalog(language)
    assert set(other) == set(english)
    for name, text in english.items():
        assert wording.placeholders(other[name]) == wording.placeholders(text), f"{language}/{name}"


@pytest.mark.parametrize("language", list(wording.LANGUAGES))
def test_every_language_formats_the_same_facts(language):
    def public(module):
        return {name for name, value in vars(module).items()
                if isinstance(value, types.FunctionType) and not name.startswith("_")}
    assert public(wording.words(language)) == public(en)


def test_every_placeholder_has_an_example_value():
    every = set().union(*(wording.placeholders(t) for t in wording.catalog("en").values()))
    assert every <= set(examples("en")), f"no example for {every - set(examples('en'))}"


def _code_strings() -> tuple[set[str], set[str]]:
    """String constants of the code that speaks, and the names it renders or utters."""
    constants, rendered = set(), set()
    for folder in ("actions", "bot", "channels", "nlu", "web", "workers"):
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    constants.add(node.value)
                if isinstance(node, ast.Call) and node.args:
                    func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                    first = node.args[0]
                    if func in ("render", "say") and isinstance(first, ast.Constant) and isinstance(first.value, str):
                        rendered.add(first.value)
    rendered |= {c for c in constants if re.fullmatch(r"utter_\w+", c)}
    return constants, rendered


def _rule_actions() -> set[str]:
    names = set()
    for folder in ("data", "tests/stories"):
        for path in (ROOT / folder).rglob("*.yml"):
            for match in re.finditer(r"action:\s*(utter_\w+)", path.read_text()):
                names.add(match.group(1))
    return names


def test_every_text_the_code_domain_and_rules_use_is_in_the_catalog():
    _, rendered = _code_strings()
    used = rendered | set(DOMAIN["responses"]) | _rule_actions()
    assert used - set(wording.catalog("en")) == set()


def test_every_text_of_the_catalog_is_used():
    """An assistant reply is declared in domain.yml; any other text is named in the code."""
    constants, _ = _code_strings()
    for name in wording.catalog("en"):
        if name.startswith("utter_"):
            assert name in DOMAIN["responses"], f"{name} is not declared in domain.yml"
            assert name in constants or name in _rule_actions(), f"{name}: no action or rule says it"
        else:
            assert name in constants, f"{name} is in the catalog but no code renders it"


# --- The conversation's language, and English when a language has no catalog -----------------------

def test_a_language_without_a_catalog_reads_english():
    assert wording.language_or_default("fr") == "en"
    assert wording.language_or_default(None) == "en"
    assert wording.language_or_default("EN-us") == "en"
    assert wording.render("utter_goodbye", "fr", practice_name="Riverside") == \
        "Thanks for texting Riverside. Have a good day!"
    assert wording.words("fr") is en


def test_a_placeholder_without_a_value_raises_instead_of_sending_braces():
    with pytest.raises(KeyError):
        wording.render("utter_goodbye", "en")


@pytest.fixture
def pseudo(tmp_path, monkeypatch):
    """A registered language "xx": every English text prefixed "XX ", and slots phrased "XX-SLOT ..."."""
    english = yaml.safe_load((wording.CATALOG_DIR / "en.yml").read_text())
    (tmp_path / "en.yml").write_text(yaml.safe_dump(english))
    (tmp_path / "xx.yml").write_text(yaml.safe_dump({k: "XX " + v for k, v in english.items()}))
    xx = types.ModuleType("xx")
    vars(xx).update({k: v for k, v in vars(en).items() if not k.startswith("__")})
    xx.slot = lambda start, provider: "XX-SLOT " + en.slot(start, provider)
    monkeypatch.setattr(wording, "CATALOG_DIR", tmp_path)
    monkeypatch.setitem(wording.LANGUAGES, "xx", xx)
    wording.catalog.cache_clear()
    yield "xx"
    wording.catalog.cache_clear()


def speaks(engine, phone: str, language: str | None) -> None:
    with Session(engine) as session, session.begin():
        for patient in session.execute(select(Patient).where(Patient.phone == phone).order_by(Patient.id)).scalars():
            patient.language = language or "en"
            language = "en"  # only the phone's first patient speaks it


def test_the_conversation_speaks_the_first_patients_language(demo_engine, now, converse, pseudo):
    family = "+15035550113"
    speaks(demo_engine, family, "xx")
    chat = converse(family, demo_engine, now)
    assert chat.slots["language"] == "xx"
    assert chat.say("hi", "greet").startswith("XX Hi! This is the text line of ")
    assert chat.say("when are our appts", "check_appointment").startswith("XX Which patient")
    reply = chat.say("Emma", "inform")
    assert reply.startswith("XX Upcoming: Emma: XX-SLOT ")  # a shared phone: each visit names its patient


def test_a_patient_whose_language_has_no_catalog_is_answered_in_english(demo_engine, now, converse):
    maria = "+15035550111"
    speaks(demo_engine, maria, "fr")
    chat = converse(maria, demo_engine, now)
    assert chat.slots["language"] == "en"
    assert chat.say("hi", "greet").startswith("Hi! This is the text line of ")


def test_an_unknown_number_is_answered_in_english(demo_engine, now, converse, pseudo):
    chat = converse("+15035550150", demo_engine, now)
    assert chat.slots["language"] == "en"


def test_automated_texts_are_written_in_the_patients_language(demo_engine, now, pseudo):
    from bot.messaging.reminders import reminder_text
    from bot.patients import language_for_phone
    from bot.scheduling.recall import recall_text
    from bot.scheduling.waitlist import _slot_at, offer_text

    maria = "+15035550111"
    speaks(demo_engine, maria, "xx")
    with Session(demo_engine) as session:
        practice = session.execute(select(Practice)).scalar_one()
        patient = session.execute(select(Patient).where(Patient.phone == maria)).scalar_one()
        appointment = session.execute(select(Appointment).where(Appointment.patient_id == patient.id)).scalars().first()
        assert language_for_phone(session, maria) == "xx"
        [reminder] = reminder_text(practice, [appointment], language_for_phone(session, maria))
        assert reminder.startswith("XX Reminder from ") and "XX-SLOT " in reminder
        assert recall_text(practice, appointment, appointment.provider, False).startswith("XX ")
        slot = _slot_at(session, appointment.provider_id, appointment.appointment_type_id, appointment.start)
        offer = offer_text(practice.name, slot, ZONE, patient.language)
        assert offer.startswith("XX ") and "XX-SLOT " in offer


def test_the_channel_answers_help_in_the_phones_language(demo_engine, now, pseudo):
    from bot.messaging import inbound

    maria = "+15035550111"
    speaks(demo_engine, maria, "xx")
    with Session(demo_engine) as session, session.begin():
        message, _ = inbound.store_inbound(session, message_sid="SM" + "7" * 32, phone=maria, to_number=None,
                                           body="HELP", media=[], now=now)
        result = inbound.triage_inbound(session, message, now=now, advanced_opt_out=False)
        [reply] = [session.get(OutboundMessage, i).body for i in result.outbound_ids]
    assert reply.startswith("XX ") and "for help call us at" in reply

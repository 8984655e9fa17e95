"""The emergency safety net must never miss an emergency and rarely cry wolf.

The texts here are written independently of data/nlu/emergency.yml, in the
way patients really text: typos, no apostrophes, lower case, run-ons.
"""

from __future__ import annotations

import pytest

from bot.language.safety import emergency_reason, is_emergency
from tests.ci import require

EMERGENCIES = [
    # hopelessness about living, in several wordings
    "honestly i can't see the point of life lately",
    "whats the point in going on anymore",
    "i dont see any reason to keep living",
    # medicine names and adjectives between the amount and the pills
    "i took a bunch of my blood pressure pills by mistake",
    "he swallowed a handful of his heart meds",
    "took all of my anxiety meds at once",
    "my son took a whole lot of the allergy tablets",
    # chest pain / heart
    "my chest hurts so bad rn",
    "chest pain since lunch and its getting worse",
    "having cp and my arm tingles",
    "lol my chest has been kinda tight all morning and my left arm is numb",
    "theres a squeezing feeling in my chest",
    "Good evening. My husband Frank says there is a heavy weight on his chest and he is very pale.",
    "i think its a heart attack, pain in chest and jaw",
    "sharp pains in my chest when i breathe in, started an hour ago",
    "my chst hurts and im sweaty",
    "left arm aching and i feel sick, is it my heart",
    # breathing
    "cant breath",
    "i cant breathe good",
    "my son is having trouble breathing",
    "struggling to breath after walking to the car",
    "hard to breathe since this morning",
    "mom is short of breath and confused",
    "my toddler is choking on a grape",
    "baby's lips look blue",
    "my inhaler isnt working and im wheezing",
    "she stopped breathing for a few seconds",
    "my husband isnt breathing!!",
    "i cnt breathe pls help",
    # allergic reaction
    "throat closing",
    "my throat feels tight after eating peanuts",
    "lips swelling after the new meds",
    "my daughters face is swelling up from a bee sting",
    "tongue is swollen and its hard to swallow",
    "having an allergic reaction to the amoxicillin",
    "i used my epi pen, what now",
    "anaphylactic reaction to shellfish",
    # stroke
    "face is drooping",
    "dads face looks droopy on the left",
    "my wife is slurring her words",
    "mom is talking but her words are jumbled",
    "right side of my body feels numb",
    "suddenly cant lift my left arm",
    "my arm went numb out of nowhere and my face feels weird",
    "grandpa might be having a stroke",
    "worst headache ive ever had came on suddenly",
    "my mouth is crooked and my face fell on one side",
    # bleeding
    "my cut wont stop bleeding",
    "nosebleed for 40 min and it wont stop bleeding",
    "bleeding alot from my leg",
    "extraction site is bleeding badly and soaked through the gauze",
    "im throwing up blood",
    "he's coughing blood",
    "heavy bleeding 8 weeks pregnant",
    "blood is gushing from his head",
    # overdose / poisoning
    "i od'd on my anxiety meds",
    "my friend OD'd",
    "i think i took too much tylenol",
    "took a whole bottle of advil",
    "he took all of his pills at once",
    "my 3 year old got into my blood pressure pills and ate some",
    "my son drank some bleach by accident",
    "she swallowed a laundry pod",
    "i accidentally took my meds twice and my husband's pills too",
    "took a handful of sleeping pills with vodka",
    "possible overdose",
    # self-harm
    "i want to kill myself",
    "honestly i just want to die",
    "kms",
    "thinking about ending it all tonight",
    "i dont want to live anymore",
    "i keep thinking about suicide",
    "im going to hurt myself",
    "i feel like everyone would be better off without me",
    "i want to end my life",
    "my son says hes going to harm himself",
    "no reason to go on living",
    # unresponsive / seizure
    "passed out and wont wake up",
    "my husband fainted and isnt responding",
    "she is unresponsive",
    "my dad collapsed in the kitchen",
    "cant wake my grandmother up",
    "my daughter is having a seizure right now",
    "he's convulsing on the floor",
    "my baby went limp",
    # head injury
    "my son fell down the stairs and hit his head, now hes throwing up",
    "banged my head on the car door and now i'm seeing double",
    "possible concussion after a fall, very confused",
    # infants / children
    "my 3 week old has a fever",
    "newborn with temp of 100.8",
    "infant feels really hot, temperature 102",
    "my baby has a fever of 105",
    "2 month old has a fever and wont eat",
    "my son's fever is 104.5 and he is hard to wake",
    # other
    "this is an emergency please help",
    "EMERGENCY!!!",
    "i need an ambulance",
    "should i go to the ER",
    "car crash, my neck hurts bad",
    "chest pian and sweating",
    "i took 20 tylenol",
    "im feeling sucidal",
    "my water broke at 34 weeks",
    "grandma fell and cant get up",
    "my baby has a fever of 103",
]

ORDINARY = [
    "i need to reschedule my appointment",
    "can I reschedule my chest xray",
    "question about my bill",
    "how much is a cleaning",
    "i need a refill on my lisinopril",
    "my prescription ran out",
    "i have a cough",
    "my daughter has a fever of 100",
    "is dr patel in on fridays",
    "what are your hours",
    "where do i park",
    "stop",
    "can you stop by later",
    "thanks!",
    "C",
    "R",
    "yes",
    "no",
    "cancel my appointment, something came up",
    "my insurance changed",
    "are my lab results back",
    "can i take ibuprofen with my meds",
    "my tooth is sensitive after the filling",
    "i need a cleaning and a checkup",
    "book me with dr okafor",
    "do you take medicaid",
    "i have a sore throat",
    "my back hurts when i sit too long",
    "my knee is swollen from running",
    "i had a family emergency and missed my appointment",
    "my son has a runny nose and a low fever",
    "what should i eat before my blood test",
    "is my blood pressure med making me tired",
    "can i get a flu shot",
    "the wait was too long last time",
    "my gums bleed a little when i floss",
    "i got a bill for my chest x-ray",
    "help",
    "wrong number",
    "tell me a joke",
    "thank you for fitting me in",
    "i'm running late, be there in 10",
    "my headache is better now",
    "what time is my appointment tomorrow",
    "can i talk to a real person",
    "my daughter needs a sports physical",
    "is it normal to feel sore after my shot",
    "it took 20 minutes to get my pills at the pharmacy",
    "i took 2 advil for my headache",
]


@pytest.mark.parametrize("text", EMERGENCIES)
def test_every_emergency_text_triggers(text: str) -> None:
    assert emergency_reason(text) is not None, text


def test_emergency_list_is_large_enough() -> None:
    assert len(EMERGENCIES) >= 80
    assert len(ORDINARY) >= 40


def test_ordinary_texts_raise_at_most_two_false_alarms() -> None:
    false_alarms = [(text, emergency_reason(text)) for text in ORDINARY if is_emergency(text)]
    assert len(false_alarms) <= 2, false_alarms


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("crushing chest pain", "chest pain"),
        ("cant breath", "breathing"),
        ("my throat is closing", "allergic reaction"),
        ("her face is drooping", "stroke"),
        ("it wont stop bleeding", "bleeding"),
        ("i think he od'd", "overdose"),
        ("i want to kill myself", "self-harm"),
        ("she had a seizure", "seizure"),
        ("passed out and wont wake up", "unresponsive"),
    ],
)
def test_reason_names_the_category(text: str, reason: str) -> None:
    assert emergency_reason(text) == reason


def test_empty_text_is_not_an_emergency() -> None:
    assert emergency_reason("") is None
    assert not is_emergency("   ")


def _message(text: str, intent: str, confidence: float):
    from rasa.shared.nlu.training_data.message import Message

    message = Message(data={"text": text})
    message.set("intent", {"name": intent, "confidence": confidence}, add_to_output=True)
    message.set(
        "intent_ranking",
        [
            {"name": intent, "confidence": confidence},
            {"name": "emergency", "confidence": 0.05},
        ],
        add_to_output=True,
    )
    return message


def test_override_turns_fallback_for_emergency_text_into_emergency() -> None:
    require("rasa")
    from nlu.emergency_override import EmergencyOverride

    message = _message("lol cant breath rn", "nlu_fallback", 0.3)
    [result] = EmergencyOverride({}).process([message])

    assert result.get("intent") == {"name": "emergency", "confidence": 1.0}
    ranking = result.get("intent_ranking")
    assert ranking[0] == {"name": "emergency", "confidence": 1.0}
    assert [r["name"] for r in ranking].count("emergency") == 1
    assert result.get("emergency_reason") == "breathing"
    assert result.get("classifier_intent") == {"name": "nlu_fallback", "confidence": 0.3}
    output = result.as_dict(only_output_properties=True)
    assert output["emergency_reason"] == "breathing"
    assert output["intent"]["name"] == "emergency"


def test_override_leaves_ordinary_messages_alone() -> None:
    require("rasa")
    from nlu.emergency_override import EmergencyOverride

    message = _message("question about my bill", "billing_question", 0.93)
    [result] = EmergencyOverride({}).process([message])

    assert result.get("intent") == {"name": "billing_question", "confidence": 0.93}
    assert result.get("emergency_reason") is None
    assert result.get("classifier_intent") is None


def test_override_reads_the_whole_text_from_the_metadata_when_the_classifier_got_a_cut() -> None:
    require("rasa")
    from nlu.emergency_override import EmergencyOverride

    whole = "Good afternoon, a question about my bill and my next visit. " * 10 + "My chest hurts and my arm is numb."
    cut = whole[:500]
    message = _message(cut, "billing_question", 0.9)
    message.set("metadata", {"whole_text": whole})
    [result] = EmergencyOverride({}).process([message])
    assert result.get("intent") == {"name": "emergency", "confidence": 1.0}
    assert result.get("emergency_reason") == "chest pain"

    plain = _message(cut, "billing_question", 0.9)  # the same cut text without the rest: no emergency
    [unchanged] = EmergencyOverride({}).process([plain])
    assert unchanged.get("intent")["name"] == "billing_question"


# Phones type curly apostrophes ("can’t"), and patients punctuate freely: both must not hide an emergency.
@pytest.mark.parametrize("text, reason", [
    ("i can\u2019t breathe", "breathing"),
    ("can\u2019t breath", "breathing"),
    ("i don\u2019t want to live anymore", "self-harm"),
    ("i can\u2019t wake him up", "unresponsive"),
    ("she won\u2019t stop bleeding", "bleeding"),
    ("i can\u2018t breathe", "breathing"),
    ("my chest!!! hurts!!! so bad", "chest pain"),
    ("CHEST...PAIN", "chest pain"),
    ("chest-pain", "chest pain"),
    ("shortness-of-breath", "breathing"),
])
def test_curly_apostrophes_and_punctuation_do_not_hide_an_emergency(text, reason):
    assert emergency_reason(text) == reason
    assert is_emergency(text)


@pytest.mark.parametrize("text, reason", [
    ("this is an emergency", "emergency"),
    ("medical emergency please help", "emergency"),
    ("take me to the ER now", "emergency"),
    ("had a family emergency, can I move my appt", None),
    ("car emergency, running late", None),
    ("", None),
])
def test_the_word_emergency_counts_unless_it_is_plainly_not_medical(text, reason):
    assert emergency_reason(text) == reason
    assert is_emergency(text) is (reason is not None)

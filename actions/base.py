"""What every custom action shares: one database transaction per turn, the patient's phone, the clock.

Actions are thin adapters: :class:`PracticeAction` turns a Rasa tracker into a
:class:`Turn` (session, phone, text, now, practice) and the action's
``act(turn)`` calls ``bot/`` and speaks only through texts of the catalog
(``bot/wording/catalog/``), in the conversation's language.
Subclass it, set ``action_name`` and implement ``act``; append slot changes
with ``turn.set(...)``. The texts not understood in a row (the
``fallback_count`` slot) are counted only by :meth:`Turn.missed` and start
afresh after any turn that counted none.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import ModuleType
from typing import Any, Callable, Dict, List, Text
from zoneinfo import ZoneInfo

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from actions.state import ConversationState, slot_value
from bot import wording
from bot.db import get_engine, transaction
from bot.messaging.conversations import conversation_for_sender, conversation_language, language_of_text, patient_phone
from bot.models import Conversation, Practice
from bot.practice import format_phone, get_practice, practice_zone
from bot.privacy import mask_phone

logger = logging.getLogger(__name__)


def system_clock() -> datetime:
    return datetime.now(timezone.utc)


MISSES_BEFORE_HANDOFF = 2  # texts not understood in a row before staff take over

# Tests replace these to stand on any date and database (see tests/test_conversations.py).
clock: Callable[[], datetime] = system_clock
engine = get_engine


@dataclass
class Turn:
    """One patient turn as the domain sees it."""

    session: Session
    tracker: Tracker
    dispatcher: CollectingDispatcher
    practice: Practice
    now: datetime
    events: list = field(default_factory=list)
    counted_a_miss: bool = False
    spoken_language: str | None = None  # this turn's reply language (see settle_language)

    @property
    def phone(self) -> str:
        """The phone whose patients this turn may discuss (:func:`bot.messaging.conversations.patient_phone`):
        SMS, the sender's; a web chat, the verified one; "" (no patient's) for a chat not yet verified."""
        return patient_phone(self.session, self.conversation) or ""

    @property
    def may_discuss_visits(self) -> bool:
        return bool(self.phone)

    @property
    def conversation(self) -> Conversation:
        """The conversation Rasa's sender id names (SMS: the phone), created if new."""
        return conversation_for_sender(self.session, self.tracker.sender_id, self.now)

    @property
    def text(self) -> str:
        return (self.tracker.latest_message or {}).get("text") or ""

    @property
    def intent(self) -> str:
        return ((self.tracker.latest_message or {}).get("intent") or {}).get("name") or ""

    @property
    def zone(self) -> ZoneInfo:
        return practice_zone(self.practice)

    @property
    def local_now(self) -> datetime:
        return self.now.astimezone(self.zone)

    @property
    def language(self) -> str:
        """The language of this turn's replies: the one the text asks for or is written in, else the conversation's
        (:func:`bot.messaging.conversations.language_of_text`); English by default."""
        return wording.language_or_default(self.spoken_language or self.slot("language"))

    def settle_language(self) -> None:
        """Decide the turn's reply language from the text (storing a switch the patient asks for) and keep the
        ``language`` slot on the conversation's stored language, which rules' own replies read."""
        if self.text:
            self.spoken_language = language_of_text(self.session, self.conversation, self.text)
        stored = conversation_language(self.session, self.conversation)
        if stored and wording.language_or_default(stored) != self.tracker.get_slot("language"):
            self.set(language=wording.language_or_default(stored))

    @property
    def words(self) -> ModuleType:
        """How facts read in the conversation's language (:mod:`bot.wording.formatting`)."""
        return wording.words(self.language)

    def slot(self, name: str) -> Any:
        for event in reversed(self.events):  # a value set earlier in this turn wins
            if event.get("event") == "slot" and event.get("name") == name:
                return event.get("value")
        return self.tracker.get_slot(name)

    @property
    def state(self) -> ConversationState:
        """What the assistant awaits, in which flow, and its misses, as of the events so far."""
        return ConversationState.from_slots(self.slot)

    def set(self, **slots: Any) -> None:
        """Set slots; enums (:class:`~actions.state.Awaiting`, :class:`~actions.state.Flow`) go in as plain values."""
        self.events.extend(SlotSet(name, slot_value(value)) for name, value in slots.items())

    def missed(self) -> bool:
        """Count this text as not understood; True when it is the second in a row (hand off: counting starts afresh)."""
        self.counted_a_miss = True
        misses = self.state.fallback_count + 1
        self.set(fallback_count=0 if misses >= MISSES_BEFORE_HANDOFF else misses)
        return misses >= MISSES_BEFORE_HANDOFF

    def understood(self) -> None:
        """The end of a turn: unless it counted a miss, the misses in a row start afresh."""
        if not self.counted_a_miss and self.state.fallback_count:
            self.set(fallback_count=0)

    def say(self, response: str, **values: Any) -> None:
        """Utter a response of the catalog, with the practice's own details always at hand.

        Rasa renders it (nlu/catalog_nlg.py) in the ``language`` slot's language; ``values`` are phrases already
        formatted with :attr:`words`.
        """
        self.dispatcher.utter_message(
            response=response,
            language=self.language,
            practice_name=self.practice.name,
            practice_phone=format_phone(self.practice.phone),
            address=self.practice.address,
            **values,
        )


class PracticeAction(Action):
    action_name: str = ""
    resets_fallbacks = True  # False: the misses in a row are kept across this action (a new session)
    # True: about a patient's own visits or consent; a web chat not yet verified hears "verify your phone first"
    needs_patient_phone = False

    def name(self) -> Text:
        return self.action_name

    def act(self, turn: Turn) -> None:
        raise NotImplementedError

    def _run_in_transaction(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> list:
        now = clock()
        with transaction(engine()) as session:
            turn = Turn(session, tracker, dispatcher, get_practice(session), now)
            turn.settle_language()
            if self.needs_patient_phone and not turn.may_discuss_visits:
                turn.say("utter_verify_phone_first")
                return turn.events
            self.act(turn)
            if self.resets_fallbacks:
                turn.understood()
            return turn.events

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        logger.info("%s for %s", self.action_name, mask_phone(tracker.sender_id))
        # The database work is synchronous: keep it off the action server's event loop.
        return await asyncio.to_thread(self._run_in_transaction, dispatcher, tracker)

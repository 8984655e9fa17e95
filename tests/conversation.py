"""A test harness that holds SMS conversations with the real rules, actions, database and responses.

No NLU model is involved: each turn names its intent, the rules in
data/rules/ pick the action (as Rasa's RulePolicy would), the real action
runs against the test database, and the reply is rendered from the wording
catalog as Rasa's NLG renders it (nlu/catalog_nlg.py: the same
bot.wording.render_response), so tests read exactly what the patient would receive.
"""
from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

import actions.actions  # noqa: F401  (registers the action classes)
from actions import base
from bot.wording import render_response

ROOT = Path(__file__).resolve().parent.parent


def _rules() -> dict[str, str]:
    mapping = {}
    for path in (ROOT / "data" / "rules").glob("*.yml"):
        for rule in yaml.safe_load(path.read_text())["rules"]:
            steps = rule["steps"]
            if len(steps) == 2 and "intent" in steps[0] and "action" in steps[1]:
                mapping[steps[0]["intent"]] = steps[1]["action"]
    return mapping


DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text())
RULES = _rules()


def _all_actions() -> dict[str, type]:
    found, todo = {}, list(Action.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        name = getattr(cls, "action_name", "")
        if name:
            found[name] = cls
    return found


def render(message: dict, slots: dict, said: str = "") -> str:
    """Fill a response from the catalog the way the Rasa server's NLG does (a missing value raises)."""
    if message.get("text"):
        return message["text"]
    values = {k: v for k, v in message.items() if k != "response"}
    text = render_response(message["response"], slots, values, said)
    assert text is not None, f"{message['response']} is not in the catalog"
    return text


class Conversation:
    """One patient's SMS conversation; ``patch`` (pytest's monkeypatch) undoes its clock and engine after the test."""

    def __init__(self, phone: str, engine, now: datetime, patch: pytest.MonkeyPatch):
        self.phone = phone
        self.patch = patch
        self.slots: dict = {name: spec.get("initial_value") for name, spec in DOMAIN["slots"].items()}
        self.paused = False
        self.replies: list[str] = []
        self.events: list[dict] = []
        self.logged_actions: list[str] = []
        self.responses: list[str] = []
        patch.setattr(base, "engine", lambda: engine)
        patch.setattr(base, "clock", lambda: now)
        self.actions = _all_actions()
        self.run_action("action_session_start", "", "")

    def set_now(self, now: datetime) -> None:
        self.patch.setattr(base, "clock", lambda: now)

    def run_action(self, action_name: str, text: str, intent: str, extra: dict | None = None) -> str:
        latest = {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": [], **(extra or {})}
        tracker = Tracker(self.phone, dict(self.slots), latest, [], self.paused, None, {}, None)
        dispatcher = CollectingDispatcher()
        events = asyncio.run(self.actions[action_name]().run(dispatcher, tracker, DOMAIN))
        for event in events:
            if event["event"] == "slot":
                self.slots[event["name"]] = event["value"]
            elif event["event"] == "pause":
                self.paused = True
            elif event["event"] == "action":
                self.logged_actions.append(event["name"])
            elif event["event"] == "resume":
                self.paused = False
        self.events = events
        self.responses = [m.get("response") for m in dispatcher.messages]
        reply = "\n".join(render(m, self.slots, text) for m in dispatcher.messages)
        self.replies.append(reply)
        return reply

    def say(self, text: str, intent: str, **extra) -> str:
        """The patient texts; returns the bot's reply ('' when paused, as Rasa would stay silent)."""
        if self.paused:
            return ""
        action = RULES[intent]
        if action.startswith("utter_"):
            reply = render({"response": action}, self.slots, text)
            self.replies.append(reply)
            return reply
        return self.run_action(action, text, intent, extra)


@pytest.fixture
def converse(monkeypatch):
    """``converse(phone, engine, now)`` starts a :class:`Conversation`; what it patches is restored after the test."""
    def start(phone: str, engine, now: datetime) -> Conversation:
        return Conversation(phone, engine, now, monkeypatch)
    return start

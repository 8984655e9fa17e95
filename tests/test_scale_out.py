"""The settings a practice group uses to run several Rasa servers: SQL tracker store on PostgreSQL, Redis locks.

Built from the project's own endpoints.yml with the environment a group's
operator sets, through Rasa's own factories, against the real services.
"""
from __future__ import annotations

import asyncio
import os

import pytest
from rasa.core.lock_store import LockStore, RedisLockStore
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import read_endpoint_config
from sqlalchemy.engine import make_url

from bot.settings import ROOT


def _redis_or_skip():
    import redis

    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_timeout=2).ping()
    except Exception as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set and Redis is not reachable: {exc}")
        pytest.skip(f"Redis not reachable at 127.0.0.1:6379: {exc}")


@pytest.fixture
def group_environment(pg_url, monkeypatch):
    url = make_url(pg_url).set(drivername="postgresql")
    for name, value in {
        "ACTION_PORT": "5055", "TRACKER_DIALECT": "postgresql",
        "TRACKER_DB_URL": url.render_as_string(hide_password=False), "TRACKER_DB": url.database,
        "LOCK_STORE_TYPE": "redis", "LOCK_STORE_URL": "127.0.0.1", "LOCK_STORE_PORT": "6379",
    }.items():
        monkeypatch.setenv(name, value)


def test_conversations_are_shared_through_the_sql_tracker_store_on_postgresql(group_environment):
    domain = Domain.load(str(ROOT / "domain.yml"))
    config = read_endpoint_config(str(ROOT / "endpoints.yml"), "tracker_store")
    first_server = TrackerStore.create(config, domain)
    second_server = TrackerStore.create(config, domain)
    assert isinstance(first_server, SQLTrackerStore)

    tracker = DialogueStateTracker("+15035550111", domain.slots)
    tracker.update(UserUttered("move my appt", {"name": "reschedule_appointment", "confidence": 1.0}))
    tracker.update(SlotSet("awaiting", "time_preference"))
    asyncio.run(first_server.save(tracker))

    seen = asyncio.run(second_server.retrieve("+15035550111"))
    assert seen.get_slot("awaiting") == "time_preference"


def test_two_servers_take_turns_on_one_conversation_through_redis_locks(group_environment):
    _redis_or_skip()
    config = read_endpoint_config(str(ROOT / "endpoints.yml"), "lock_store")
    first, second = LockStore.create(config), LockStore.create(config)
    assert isinstance(first, RedisLockStore)
    conversation = "+15035550111-lock-test"
    order: list[str] = []

    async def handle(store: LockStore, name: str, hold: float):
        async with store.lock(conversation, lock_lifetime=10, wait_time_in_seconds=0.05):
            order.append(f"{name} in")
            await asyncio.sleep(hold)
            order.append(f"{name} out")

    async def both():
        await asyncio.gather(handle(first, "a", 0.3), handle(second, "b", 0.0))

    asyncio.run(both())
    # Never interleaved: one server finishes the turn before the other starts it.
    assert order in (["a in", "a out", "b in", "b out"], ["b in", "b out", "a in", "a out"])


def test_endpoints_resolve_the_action_server_port_from_the_environment(monkeypatch):
    for name, value in {"ACTION_PORT": "5999", "TRACKER_DIALECT": "sqlite", "TRACKER_DB_URL": "",
                        "TRACKER_DB": "rasa.db", "LOCK_STORE_TYPE": "in_memory", "LOCK_STORE_URL": "127.0.0.1",
                        "LOCK_STORE_PORT": "6379"}.items():
        monkeypatch.setenv(name, value)
    config = read_endpoint_config(str(ROOT / "endpoints.yml"), "action_endpoint")
    assert config.url == "http://127.0.0.1:5999/webhook"

"""`make run`'s supervisor: which services it starts, and that Rasa's HTTP API never runs open."""
from bot.settings import Settings
from bot.supervisor import secured, services


def _rasa_command(settings: Settings) -> list[str]:
    [rasa] = [s for s in services(settings, "models") if s.name == "rasa"]
    return rasa.command


def test_without_rasa_token_a_random_one_is_made_for_the_run_and_shared_with_every_service():
    env: dict[str, str] = {}
    settings = secured(Settings(rasa_token=""), env)
    command = _rasa_command(settings)
    assert len(env["RASA_TOKEN"]) >= 24 and settings.rasa_token == env["RASA_TOKEN"]
    assert command[command.index("--auth-token") + 1] == env["RASA_TOKEN"]
    assert secured(Settings(rasa_token=""), {}).rasa_token != settings.rasa_token  # never a fixed value


def test_the_operators_rasa_token_is_kept():
    env: dict[str, str] = {}
    settings = secured(Settings(rasa_token="operator-chosen"), env)
    assert env == {} and settings.rasa_token == "operator-chosen"
    command = _rasa_command(settings)
    assert command[command.index("--auth-token") + 1] == "operator-chosen"


def test_every_service_is_started_and_the_stub_only_for_the_local_twilio():
    local = [s.name for s in services(Settings(twilio_api_base="http://127.0.0.1:8099"), "models")]
    assert local[0] == "twilio stub + simulator"
    assert {"actions", "rasa", "staff inbox", "outbox sender", "reminder worker"} <= set(local)
    real = [s.name for s in services(Settings(twilio_api_base="https://api.twilio.com"), "models")]
    assert "twilio stub + simulator" not in real

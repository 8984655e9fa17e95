"""The NLU's provider lookup and synonyms stay in step with the practice config."""
import yaml

from bot.practice import load_practice_file
from bot.settings import ROOT

LOOKUPS = yaml.safe_load((ROOT / "data" / "nlu" / "lookups.yml").read_text())["nlu"]
PRACTICE = load_practice_file(ROOT / "bot" / "demo_practice.yml")


def _lines(block: dict) -> list[str]:
    return [line[2:].strip().lower() for line in block["examples"].splitlines() if line.strip().startswith("- ")]


def test_every_synonym_maps_to_a_provider_of_the_practice():
    keys = {p["key"] for p in PRACTICE["providers"]}
    synonyms = {block["synonym"] for block in LOOKUPS if "synonym" in block}
    assert synonyms == keys


def test_every_provider_is_in_the_lookup_by_full_and_last_name():
    [lookup] = [block for block in LOOKUPS if block.get("lookup") == "provider"]
    names = set(_lines(lookup))
    for provider in PRACTICE["providers"]:
        last = provider["name"].split()[-1].lower()
        assert last in names and provider["name"].lower() in names, provider["key"]


def test_synonyms_name_their_own_provider():
    by_key = {p["key"]: p for p in PRACTICE["providers"]}
    for block in (b for b in LOOKUPS if "synonym" in b):
        last = by_key[block["synonym"]]["name"].split()[-1].lower()
        assert all(last in line for line in _lines(block)), block["synonym"]

"""Rasa custom actions: thin adapters from a Rasa tracker to the practice's domain in bot/."""

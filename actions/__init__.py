"""Rasa custom actions: thin adapters from a Rasa tracker to the practice's domain in bot/.

Importing the package masks phone numbers in the action server's log.
"""
from bot.privacy import install_log_masking

install_log_masking()

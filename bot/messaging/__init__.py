"""Texts in and out: inbound triage, the outbox, consent, quiet hours, reminders."""

"""Booking, open slots, the waitlist, recall and appointment outcomes."""

"""Tools for developers and trainers; nothing here runs in a practice's services."""

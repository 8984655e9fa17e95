"""Long-running processes and the command line: the supervisor, the reminder worker, `python -m bot`."""

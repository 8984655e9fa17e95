"""Reading patients' words: dates and times, short answers, the emergency safety net."""

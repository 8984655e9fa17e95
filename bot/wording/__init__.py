"""Every word a patient reads, per language."""

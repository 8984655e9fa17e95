"""Custom Rasa NLU components. Import the modules here only from a Rasa pipeline."""

"""Custom Rasa NLU components. Import the modules here only from a Rasa pipeline.

Importing the package masks phone numbers in the log of the process (the Rasa
server, which loads the components with the model after its logging is set up).
"""
from bot.privacy import install_log_masking

install_log_masking()

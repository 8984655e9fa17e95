"""The SMS channel over Twilio: the gateway, the Rasa input channel, the sender."""

"""Web chat: the chat widget on the practice website, its API (a Rasa input channel) and its delivery."""

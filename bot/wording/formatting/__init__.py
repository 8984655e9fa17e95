"""How facts read, one module per language (registered in bot.wording.LANGUAGES)."""

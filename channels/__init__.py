"""Adapters between SMS (Twilio) and the rest of the project.

``twilio_client`` builds the twilio SDK client (optionally pointed at a local
stub) and checks webhook signatures; ``twilio_stub`` is that local stub plus the
SMS simulator page. Importing this package imports nothing heavy.
"""

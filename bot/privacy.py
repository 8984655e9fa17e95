"""Keeping patients' details out of places they do not belong.

Logs never carry a full phone number: :func:`install_log_masking` adds a
filter to the root handlers of every process so even third-party libraries'
log lines (Rasa logs sender ids, which are phone numbers) are masked.
"""
from __future__ import annotations

import logging
import re

PHONE_RE = re.compile(r"\+?\d[\d\-\s().]{8,}\d")


def mask_phone(phone: str) -> str:
    """+15035550123 -> +1503***0123: enough to tell numbers apart, not to call one."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 7:
        return "***"
    prefix = "+" if phone.strip().startswith("+") else ""
    return f"{prefix}{digits[:4]}***{digits[-4:]}"


def mask_phones_in(text: str) -> str:
    return PHONE_RE.sub(lambda m: mask_phone(m.group(0)), text)


class PhoneMaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logged as is
            return True
        masked = mask_phones_in(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def install_log_masking(level: str = "INFO") -> None:
    """Configure root logging (if not yet) and mask phone numbers on every handler."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in root.handlers:
        if not any(isinstance(f, PhoneMaskingFilter) for f in handler.filters):
            handler.addFilter(PhoneMaskingFilter())

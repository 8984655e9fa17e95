"""Keeping patients' details out of places they do not belong.

Logs never carry a full phone number. :func:`install_log_masking` makes that
hold for a whole process, whoever configures its logging: every log record is
masked as it is made (a log-record factory, which outlives handlers that
Rasa, Sanic or coloredlogs replace), every handler that exists at the time
also masks the fields a library passes as ``extra`` (Sanic's access log puts
the URL there), and an uncaught exception's traceback is masked too. Each
process calls it once at start: ours in their ``main``, the Rasa server and the
action server through ``logging.yml`` (``--logging-config-file``, read before
either logs anything); the packages those two import (the NLU components, the
actions) call it on import as well, for a Rasa started by hand.

The mask knows what a phone looks like, so error codes, ids, SIDs,
timestamps, dates and prices pass unchanged.
"""
from __future__ import annotations

import logging
import re
import sys
import threading
import traceback

_NANP = r"""
    (?: (?:\+|%2B) [\s.-]? 1 [\s.-]? | 1 [\s.-]? )?  # +1, %2B1 (in URLs) or 1 before the area code
    \(? [2-9]\d{2} \)? [\s.-]?                    # area code, maybe in brackets: 503, (503)
    [2-9]\d{2} [\s.-]? \d{4}                      # 555 0123, 555-0123, 5550123
"""
_INTERNATIONAL = r"(?:\+|%2B) \d{1,3} (?:[\s.-]? \d{2,4}){2,5}"  # E.164 elsewhere: +44 20 7946 0958
PHONE_RE = re.compile(
    rf"(?<![\w.+%-]) (?: {_NANP} | {_INTERNATIONAL} ) (?![\w+]|[.,:/-]\d)", re.VERBOSE)


def mask_phone(phone: str) -> str:
    """+15035550123 -> +1503***0123: enough to tell numbers apart, not to call one."""
    digits = re.sub(r"\D", "", phone.replace("%2B", "+"))
    if len(digits) < 8:
        return "***"
    stripped = phone.strip()
    prefix = "%2B" if stripped.startswith("%2B") else "+" if stripped.startswith("+") else ""
    return f"{prefix}{digits[:min(4, len(digits) - 7)]}***{digits[-4:]}"


def _is_phone(match: re.Match) -> bool:
    return 10 <= len(re.sub(r"\D", "", match.group(0).replace("%2B", "+"))) <= 15


def mask_phones_in(text: str, placeholder: str | None = None) -> str:
    """``text`` with every phone number in it masked (or replaced by ``placeholder``); other numbers left as they are."""
    def replace(match: re.Match) -> str:
        if not _is_phone(match):
            return match.group(0)
        return mask_phone(match.group(0)) if placeholder is None else placeholder

    return PHONE_RE.sub(replace, text)


# --- Logs ----------------------------------------------------------------------------------

_STANDARD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def _mask_message(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a malformed record is logged as is (logging reports it)
        return
    masked = mask_phones_in(message)
    if masked != message:
        record.msg, record.args = masked, None


def _mask_traceback(record: logging.LogRecord) -> None:
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = mask_phones_in(record.exc_text)
    if record.stack_info:
        record.stack_info = mask_phones_in(record.stack_info)


class PhoneMaskingFilter(logging.Filter):
    """Masks a record's message, traceback and ``extra`` fields (a handler filter)."""

    def filter(self, record: logging.LogRecord) -> bool:
        _mask_message(record)
        _mask_traceback(record)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD_FIELDS and isinstance(value, str):
                setattr(record, name, mask_phones_in(value))
        return True


_lock = threading.Lock()
_installed = False


def _masking_record_factory(make_record):
    def factory(*args, **kwargs) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        _mask_message(record)
        _mask_traceback(record)
        return record

    factory.masks_phones = True  # type: ignore[attr-defined]
    return factory


def _print_masked(kind, value, trace) -> None:
    sys.stderr.write(mask_phones_in("".join(traceback.format_exception(kind, value, trace))))


def _install_excepthooks() -> None:
    """Uncaught exceptions (main thread and others) print masked; a hook someone else set is kept."""
    if sys.excepthook is sys.__excepthook__:
        sys.excepthook = _print_masked
    if threading.excepthook is threading.__excepthook__:
        threading.excepthook = lambda args: _print_masked(args.exc_type, args.exc_value, args.exc_traceback)


def _mask_existing_handlers() -> None:
    loggers = [logging.getLogger()] + [
        logger for logger in logging.Logger.manager.loggerDict.values() if isinstance(logger, logging.Logger)]
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, PhoneMaskingFilter) for f in handler.filters):
                handler.addFilter(PhoneMaskingFilter())


def install_log_masking(level: str | None = None) -> None:
    """Mask phone numbers in everything this process logs; safe to call again (it adds nothing twice).

    With ``level``, root logging is configured at that level if nobody has
    configured it yet. Call it again after a framework replaced its handlers
    to have the new handlers mask ``extra`` fields too; messages and
    tracebacks are masked whatever the handlers.
    """
    global _installed
    with _lock:
        if level is not None and not logging.getLogger().handlers:
            logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        if not getattr(logging.getLogRecordFactory(), "masks_phones", False):
            logging.setLogRecordFactory(_masking_record_factory(logging.getLogRecordFactory()))
        if not _installed:
            _install_excepthooks()
            _installed = True
        _mask_existing_handlers()


def masking_filter() -> PhoneMaskingFilter:
    """A logging config file's filter factory (``"()": bot.privacy.masking_filter``, see ``logging.yml``).

    Building the filter masks the whole process (:func:`install_log_masking`),
    so a config file that names it masks everything, whatever it attaches it to.
    """
    install_log_masking()
    return PhoneMaskingFilter()

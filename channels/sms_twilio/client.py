"""The one way this project builds a Twilio REST client and checks Twilio signatures.

Production talks to ``https://api.twilio.com``. Development and tests point the
same, unmodified twilio SDK at the local stub (``tools.twilio_stub``) by
passing ``api_base`` (e.g. ``http://127.0.0.1:8099``): every URL the SDK builds
for a ``*.twilio.com`` host is rewritten to that base, keeping path and query,
so paging links, ``messages.create`` and ``messages.list`` all reach the stub.

Signatures (``X-Twilio-Signature``) are computed and checked with the SDK's own
``RequestValidator`` so the stub and the channel can never disagree about the
algorithm.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping, Optional
from urllib.parse import urlsplit, urlunsplit

from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

DEFAULT_TIMEOUT_SECONDS = 10.0


class RedirectingHttpClient(TwilioHttpClient):
    """A ``TwilioHttpClient`` that sends requests meant for Twilio to ``api_base``.

    Only URLs whose host is ``twilio.com`` or a subdomain of it are rewritten;
    anything else (there should be nothing else) passes through untouched.
    Everything else — auth, timeouts, headers, error handling — is the SDK's.
    """

    def __init__(self, api_base: str, timeout: Optional[float] = DEFAULT_TIMEOUT_SECONDS, **kwargs: Any) -> None:
        super().__init__(timeout=timeout, **kwargs)
        base = urlsplit(api_base.rstrip("/"))
        if base.scheme not in ("http", "https") or not base.netloc:
            raise ValueError(f"api_base must look like http://host:port, got {api_base!r}")
        self.api_base = base

    def rewrite_url(self, url: str) -> str:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if host != "twilio.com" and not host.endswith(".twilio.com"):
            return url
        path = self.api_base.path + parts.path
        return urlunsplit((self.api_base.scheme, self.api_base.netloc, path, parts.query, parts.fragment))

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        return super().request(method, self.rewrite_url(url), *args, **kwargs)


def make_twilio_client(
    account_sid: str,
    auth_token: str,
    api_base: Optional[str] = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> Client:
    """Build the twilio SDK client; with ``api_base`` it talks to that server instead of Twilio.

    ``timeout`` (seconds) bounds every HTTP request, so a hung Twilio (or stub)
    surfaces as an exception instead of blocking the outbox forever.
    """
    # The SDK logs every request's URL and parameters (phone numbers) at INFO; only its warnings matter here.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    if api_base:
        http_client: TwilioHttpClient = RedirectingHttpClient(api_base, timeout=timeout)
    else:
        http_client = TwilioHttpClient(timeout=timeout)
    return Client(account_sid, auth_token, http_client=http_client)


class _FormParams(dict):
    """Form fields whose values may be a string or a list of strings (repeated fields).

    ``RequestValidator`` reads repeated fields through ``getlist``; a plain dict
    with list values would make it fail.
    """

    def getlist(self, name: str) -> list:
        value = self[name]
        return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


def signature_for(auth_token: str, url: str, params: Mapping[str, Any]) -> str:
    """The ``X-Twilio-Signature`` Twilio would send when POSTing ``params`` to ``url``.

    ``params`` values may be strings or lists of strings.
    """
    return RequestValidator(auth_token).compute_signature(url, _FormParams(params))


def is_valid_signature(auth_token: str, url: str, params: Mapping[str, Any], signature: Optional[str]) -> bool:
    """True when ``signature`` is what Twilio would send for this POST.

    ``url`` must be the full public URL Twilio was configured with (scheme,
    host, port, path, query), not the one the server thinks it is serving.
    ``params`` is the form body; values may be strings or lists of strings.
    """
    if not signature:
        return False
    return RequestValidator(auth_token).validate(url, _FormParams(params), signature)

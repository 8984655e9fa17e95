"""Fetching a patient's picture (MMS media) from Twilio for the staff inbox.

Twilio's media URLs need the account's credentials (HTTP Basic, when the
account protects media) and may redirect to a storage host; ``requests`` drops
the credentials on a redirect to another host. Only Twilio URLs are fetched
(the webhook gave them to us, signed); with ``TWILIO_API_BASE`` they go to the
stub, like every other Twilio request. The browser only ever sees the inbox's
own route.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from bot.settings import Settings
from channels.sms_twilio.client import RedirectingHttpClient

MAX_BYTES = 5 * 1024 * 1024  # Twilio's MMS limit
TIMEOUT_SECONDS = 10.0
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


class MediaUnavailable(Exception):
    """The picture could not be fetched (the message says why, for staff)."""


@dataclass(frozen=True)
class Media:
    content: bytes
    content_type: str

    @property
    def is_image(self) -> bool:
        return is_image(self.content_type)


def is_image(content_type: str) -> bool:
    """A type the inbox shows inline; anything else (a vCard, a PDF) is offered as a download."""
    return content_type.split(";")[0].strip().lower() in IMAGE_TYPES


def media_request_url(url: str, settings: Settings) -> str:
    """Where to fetch ``url``: a Twilio URL (to the stub with ``TWILIO_API_BASE``); anything else is refused."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or (host != "twilio.com" and not host.endswith(".twilio.com")):
        raise MediaUnavailable("not a Twilio media address")
    if settings.twilio_api_base:
        return RedirectingHttpClient(settings.twilio_api_base).rewrite_url(url)
    return url


def fetch_media(url: str, settings: Settings) -> Media:
    """The media's bytes and type, fetched with the account SID and auth token."""
    target = media_request_url(url, settings)
    try:
        response = requests.get(target, auth=(settings.twilio_account_sid, settings.twilio_auth_token),
                                timeout=TIMEOUT_SECONDS, stream=True)
        if response.status_code != 200:
            raise MediaUnavailable(f"Twilio answered {response.status_code}")
        content = response.raw.read(MAX_BYTES + 1, decode_content=True)
    except requests.RequestException as exc:
        raise MediaUnavailable(f"Twilio could not be reached ({type(exc).__name__})") from exc
    if len(content) > MAX_BYTES:
        raise MediaUnavailable("the file is larger than 5 MB")
    content_type = response.headers.get("Content-Type", "application/octet-stream")
    return Media(content, content_type if is_image(content_type) else "application/octet-stream")

"""The local Twilio stub behaves like Twilio for the real twilio SDK, and signs what it sends.

Everything runs on loopback: the SDK (through ``make_twilio_client``) against the stub,
and tiny local HTTP receivers standing in for the status-callback URL and the webhook.
"""
from __future__ import annotations

import threading
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest
import requests
from twilio.base.exceptions import TwilioRestException

from channels.sms_twilio.client import RedirectingHttpClient, is_valid_signature, make_twilio_client, signature_for
from tests.stub_fixtures import json_request
from tools.twilio_stub import TwilioStub, count_segments

PATIENT = "+15035550101"
PRACTICE = "+15035550199"


def client_for(stub: TwilioStub, **kwargs):
    return make_twilio_client(stub.account_sid, stub.auth_token, stub.base_url, **kwargs)


def test_sdk_creates_a_message_in_the_stub_and_lists_it(twilio_stub):
    client = client_for(twilio_stub)

    message = client.messages.create(to=PATIENT, from_=PRACTICE, body="Your appointment is confirmed.")

    assert message.sid.startswith("SM") and len(message.sid) == 34
    assert message.status == "queued"
    assert (message.to, message.from_, message.body) == (PATIENT, PRACTICE, "Your appointment is confirmed.")
    assert message.account_sid == twilio_stub.account_sid
    assert message.error_code is None
    assert message.num_segments == "1"
    assert message.date_created.tzinfo is not None
    listed = client.messages.list(to=PATIENT)
    assert [m.sid for m in listed] == [message.sid]
    assert client.messages(message.sid).fetch().body == "Your appointment is confirmed."
    assert [m["sid"] for m in twilio_stub.messages(to=PATIENT)] == [message.sid]


def test_listing_filters_and_follows_pages(twilio_stub):
    client = client_for(twilio_stub)
    sids = [client.messages.create(to=PATIENT, from_=PRACTICE, body=f"n{i}").sid for i in range(5)]
    client.messages.create(to="+15035550102", from_=PRACTICE, body="someone else")

    listed = client.messages.list(to=PATIENT, page_size=2)

    assert [m.sid for m in listed] == list(reversed(sids))  # newest first, across three pages
    assert len(client.messages.list(limit=3)) == 3
    an_hour_ago = datetime.now(timezone.utc) - timedelta(hours=1)
    assert len(client.messages.list(date_sent_after=an_hour_ago)) == 6
    assert client.messages.list(date_sent_before=an_hour_ago) == []


def test_many_concurrent_sends_are_all_recorded(twilio_stub):
    client = client_for(twilio_stub)
    sids: list[str] = []

    def send(i: int) -> None:
        sids.append(client_for(twilio_stub).messages.create(to=PATIENT, from_=PRACTICE, body=f"c{i}").sid)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(set(sids)) == 20
    assert len(client.messages.list(to=PATIENT)) == 20


def test_wrong_credentials_are_refused_with_401(twilio_stub):
    client = make_twilio_client(twilio_stub.account_sid, "wrong-token", twilio_stub.base_url)

    with pytest.raises(TwilioRestException) as error:
        client.messages.create(to=PATIENT, from_=PRACTICE, body="hi")

    assert error.value.status == 401
    assert error.value.code == 20003
    assert twilio_stub.messages() == []


@pytest.mark.parametrize("status, code", [(429, 20429), (500, 20500), (503, 20503)])
def test_injected_fault_raises_that_status_and_records_nothing(twilio_stub, status, code):
    client = client_for(twilio_stub)
    assert json_request(twilio_stub.base_url, "/_stub/faults", {"status": status, "count": 2})[0] == 200

    for _ in range(2):
        with pytest.raises(TwilioRestException) as error:
            client.messages.create(to=PATIENT, from_=PRACTICE, body="hi")
        assert (error.value.status, error.value.code) == (status, code)

    assert twilio_stub.messages() == []
    client.messages.create(to=PATIENT, from_=PRACTICE, body="third time lucky")
    assert len(twilio_stub.messages()) == 1


def test_invalid_to_number_is_refused_with_21211(twilio_stub):
    with pytest.raises(TwilioRestException) as error:
        client_for(twilio_stub).messages.create(to="503-555-0101", from_=PRACTICE, body="hi")

    assert (error.value.status, error.value.code) == (400, 21211)


def test_sending_to_an_opted_out_number_raises_21610(twilio_stub):
    json_request(twilio_stub.base_url, "/_stub/opt_out", {"number": PATIENT})

    with pytest.raises(TwilioRestException) as error:
        client_for(twilio_stub).messages.create(to=PATIENT, from_=PRACTICE, body="hi")

    assert (error.value.status, error.value.code) == (400, 21610)
    assert "unsubscribed" in error.value.msg
    json_request(twilio_stub.base_url, "/_stub/opt_in", {"number": PATIENT})
    assert client_for(twilio_stub).messages.create(to=PATIENT, from_=PRACTICE, body="hi").status == "queued"


def test_status_callbacks_reach_the_callback_url_signed(twilio_stub, webhook_receiver):
    callback_url = webhook_receiver.url("/sms/status?practice=1")
    message = client_for(twilio_stub).messages.create(
        to=PATIENT, from_=PRACTICE, body="hi", status_callback=callback_url
    )

    received = webhook_receiver.wait_for(lambda requests: len(requests) == 3)

    assert [r.form["MessageStatus"] for r in received] == ["queued", "sent", "delivered"]
    for request in received:
        assert request.path == "/sms/status?practice=1"
        assert request.form["MessageSid"] == message.sid
        assert (request.form["To"], request.form["From"]) == (PATIENT, PRACTICE)
        assert request.form["AccountSid"] == twilio_stub.account_sid
        signature = request.headers["X-Twilio-Signature"]
        assert is_valid_signature(twilio_stub.auth_token, callback_url, request.form, signature)
        tampered = {**request.form, "MessageStatus": "failed"}
        assert not is_valid_signature(twilio_stub.auth_token, callback_url, tampered, signature)
        assert not is_valid_signature("another-token", callback_url, request.form, signature)
    assert client_for(twilio_stub).messages(message.sid).fetch().status == "delivered"


def test_delivery_failure_is_reported_with_an_error_code(twilio_stub, webhook_receiver):
    twilio_stub.configure(fail_delivery_to=[PATIENT])
    message = client_for(twilio_stub).messages.create(
        to=PATIENT, from_=PRACTICE, body="hi", status_callback=webhook_receiver.url("/status")
    )

    received = webhook_receiver.wait_for(lambda requests: len(requests) == 3)

    assert received[-1].form["MessageStatus"] == "undelivered"
    assert received[-1].form["ErrorCode"] == "30003"
    fetched = client_for(twilio_stub).messages(message.sid).fetch()
    assert (fetched.status, fetched.error_code) == ("undelivered", 30003)


def test_create_delay_records_the_message_before_answering(twilio_stub):
    json_request(twilio_stub.base_url, "/_stub/config", {"create_delay_ms": 1500})
    impatient = client_for(twilio_stub, timeout=0.3)

    with pytest.raises(requests.exceptions.Timeout):
        impatient.messages.create(to=PATIENT, from_=PRACTICE, body="did this go out?")

    assert [m["body"] for m in twilio_stub.messages(to=PATIENT)] == ["did this go out?"]


def test_inbound_posts_a_correctly_signed_webhook(twilio_stub, webhook_receiver):
    webhook_url = webhook_receiver.url("/webhooks/twilio/webhook")
    twilio_stub.configure(webhook_url=webhook_url)

    status, result = json_request(
        twilio_stub.base_url,
        "/_stub/inbound",
        {"from": PATIENT, "body": "Can I move my cleaning?", "media_urls": ["http://127.0.0.1/x/card.png"]},
    )

    assert status == 200 and result["webhook_status"] == 200
    [request] = webhook_receiver.requests
    form = request.form
    assert request.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert form["MessageSid"] == form["SmsSid"] == result["message_sid"]
    assert form["MessageSid"].startswith("SM") and len(form["MessageSid"]) == 34
    assert (form["From"], form["To"], form["Body"]) == (PATIENT, PRACTICE, "Can I move my cleaning?")
    assert (form["NumMedia"], form["MediaUrl0"], form["MediaContentType0"]) == ("1", "http://127.0.0.1/x/card.png", "image/png")
    assert (form["AccountSid"], form["ApiVersion"], form["NumSegments"]) == (twilio_stub.account_sid, "2010-04-01", "1")
    assert "OptOutType" not in form
    assert request.headers["X-Twilio-Signature"] == signature_for(twilio_stub.auth_token, webhook_url, form)
    assert is_valid_signature(twilio_stub.auth_token, webhook_url, form, request.headers["X-Twilio-Signature"])


def test_inbound_can_be_badly_signed_unsigned_or_replayed(twilio_stub, webhook_receiver):
    webhook_url = webhook_receiver.url("/hook")
    twilio_stub.configure(webhook_url=webhook_url)
    base = twilio_stub.base_url

    first = json_request(base, "/_stub/inbound", {"from": PATIENT, "body": "hi"})[1]
    json_request(base, "/_stub/inbound", {"from": PATIENT, "body": "hi", "signature": "bad"})
    json_request(base, "/_stub/inbound", {"from": PATIENT, "body": "hi", "unsigned": True})
    json_request(base, "/_stub/inbound", {"from": PATIENT, "body": "hi", "message_sid": first["message_sid"]})

    signed, bad, unsigned, replay = webhook_receiver.requests
    assert bad.headers["X-Twilio-Signature"] == "bad"
    assert not is_valid_signature(twilio_stub.auth_token, webhook_url, bad.form, "bad")
    assert "X-Twilio-Signature" not in unsigned.headers
    assert replay.form["MessageSid"] == signed.form["MessageSid"]
    assert replay.headers["X-Twilio-Signature"] == signed.headers["X-Twilio-Signature"]


def test_inbound_stop_opts_the_sender_out_and_start_opts_back_in(twilio_stub, webhook_receiver):
    twilio_stub.configure(webhook_url=webhook_receiver.url("/hook"))
    client = client_for(twilio_stub)

    assert json_request(twilio_stub.base_url, "/_stub/inbound", {"from": PATIENT, "body": "  stop "})[1]["opt_out_type"] == "STOP"

    assert webhook_receiver.requests[-1].form["OptOutType"] == "STOP"
    with pytest.raises(TwilioRestException) as error:
        client.messages.create(to=PATIENT, from_=PRACTICE, body="are you sure?")
    assert error.value.code == 21610

    json_request(twilio_stub.base_url, "/_stub/inbound", {"from": PATIENT, "body": "Start"})
    assert webhook_receiver.requests[-1].form["OptOutType"] == "START"
    assert client.messages.create(to=PATIENT, from_=PRACTICE, body="welcome back").status == "queued"

    json_request(twilio_stub.base_url, "/_stub/inbound", {"from": PATIENT, "body": "help"})
    assert webhook_receiver.requests[-1].form["OptOutType"] == "HELP"
    json_request(twilio_stub.base_url, "/_stub/inbound", {"from": PATIENT, "body": "please stop by at 3"})
    assert "OptOutType" not in webhook_receiver.requests[-1].form
    assert not twilio_stub.is_opted_out(PATIENT)


def test_twiml_message_in_the_webhook_answer_is_sent_as_a_reply(twilio_stub, webhook_receiver):
    twilio_stub.configure(webhook_url=webhook_receiver.url("/hook"))
    webhook_receiver.response = (200, "<?xml version='1.0'?><Response><Message>Got it!</Message></Response>", "text/xml")

    result = json_request(twilio_stub.base_url, "/_stub/inbound", {"from": PATIENT, "body": "hi"})[1]

    [reply] = twilio_stub.messages(to=PATIENT)
    assert result["twiml_messages"] == [reply["sid"]]
    assert (reply["body"], reply["from"], reply["direction"]) == ("Got it!", PRACTICE, "outbound-reply")


def test_webhook_errors_are_reported_not_raised(twilio_stub, webhook_receiver):
    webhook_receiver.response = (403, "bad signature", "text/plain")
    twilio_stub.configure(webhook_url=webhook_receiver.url("/hook"))
    assert json_request(twilio_stub.base_url, "/_stub/inbound", {"from": PATIENT, "body": "hi"})[1]["webhook_status"] == 403

    twilio_stub.configure(webhook_url="http://127.0.0.1:9/nothing-listens-here")
    result = json_request(twilio_stub.base_url, "/_stub/inbound", {"from": PATIENT, "body": "hi"})[1]
    assert result["webhook_status"] == 0 and result["webhook_error"]


def test_conversation_and_reset(twilio_stub):
    client_for(twilio_stub).messages.create(to=PATIENT, from_=PRACTICE, body="reply")
    twilio_stub.send_inbound(from_=PATIENT, body="question")

    conversation = json_request(twilio_stub.base_url, f"/_stub/conversation?number=%2B{PATIENT[1:]}")[1]
    assert [(i["direction"], i["body"]) for i in conversation["items"]] == [("outbound", "reply"), ("inbound", "question")]
    assert json_request(twilio_stub.base_url, "/_stub/messages?to=%2B15035550102")[1] == []

    json_request(twilio_stub.base_url, "/_stub/reset", {})
    assert json_request(twilio_stub.base_url, "/_stub/messages")[1] == []
    assert twilio_stub.inbound_messages() == []


def test_simulator_page_and_contacts_are_served():
    contacts = [{"name": "Ana Demo", "phone": PATIENT}]
    with TwilioStub(contacts=contacts) as stub:
        with urllib.request.urlopen(stub.base_url + "/", timeout=5) as response:
            page = response.read().decode()
        assert response.headers["Content-Type"].startswith("text/html")
        assert "/_stub/inbound" in page and "/_stub/conversation" in page
        assert json_request(stub.base_url, "/_stub/contacts")[1] == contacts


def test_only_twilio_urls_are_redirected_to_the_api_base():
    http_client = RedirectingHttpClient("http://127.0.0.1:8099")

    assert (
        http_client.rewrite_url("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?PageSize=2")
        == "http://127.0.0.1:8099/2010-04-01/Accounts/AC1/Messages.json?PageSize=2"
    )
    assert http_client.rewrite_url("https://example.org/x") == "https://example.org/x"
    assert http_client.timeout == 10


def test_segments_are_counted_like_twilio():
    assert count_segments("a" * 160) == 1
    assert count_segments("a" * 161) == 2
    assert count_segments("é" * 160) == 1  # é is in GSM-7
    assert count_segments("🙂" * 35) == 1
    assert count_segments("ł" * 71) == 2

"""Lucía Hernández in the SMS simulator, in Spanish, on the real stack: a browser (Debian's Chromium) types in
the simulator page, the stub posts each text to the signed webhook, Rasa reads it with the trained model and
the actions answer from the Spanish catalog; the answers appear in the page's thread.

Needs the trained model (``needs_model``): `make test` runs it after training.
"""
from __future__ import annotations

import os

import pytest

from tests.ci import require
from tests.live_stack import LiveStack

playwright_api = require("playwright.sync_api")
pytestmark = [pytest.mark.needs_model, pytest.mark.browser]

LUCIA = "+15035550116"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    live = LiveStack(tmp_path_factory.mktemp("simulator_es"))
    live.stub.contacts = [{"name": "Lucía Hernández", "phone": LUCIA}]
    live.start()
    yield live
    live.stop()


@pytest.fixture
def simulator(stack):
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"CI is set and {CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_default_timeout(60_000)  # the first turn loads the model's graphs
        page.goto(stack.stub.base_url + "/")
        page.select_option("#contact", LUCIA)
        yield page
        browser.close()


def text_and_wait(page, text: str, expected: str) -> str:
    """Type and send like a patient, then wait until a bubble from the practice holds ``expected``."""
    page.fill("#text", text)
    page.click("#send")
    bubble = page.locator(".bubble.out", has_text=expected).last
    bubble.wait_for()
    return bubble.inner_text()


def test_lucia_confirms_moves_cancels_books_asks_billing_has_an_emergency_and_opts_out_and_in_in_spanish(simulator):
    page = simulator
    assert "Lucía Hernández" in page.inner_text("#who")
    reply = text_and_wait(page, "hola, cuando es mi cita?", "Sus citas:")
    assert "con Dr. Okafor" in reply
    reply = text_and_wait(page, "C", "Queda confirmado")
    assert reply.startswith("¡Gracias!")
    reply = text_and_wait(page, "necesito cambiar mi cita para el jueves en la tarde", "Horas libres")
    assert reply.startswith("Horas libres:\n1. jue ") and " PM " in reply
    assert text_and_wait(page, "1", "Cambiamos su cita").startswith("¡Listo! Cambiamos su cita al jue ")
    reply = text_and_wait(page, "necesito cancelar mi cita", "Cancelo la cita")
    assert "Responda Y para cancelarla o N para dejarla" in reply
    assert "queda cancelada" in text_and_wait(page, "si", "queda cancelada")
    reply = text_and_wait(page, "quiero hacer una cita para un chequeo la semana que viene", "Horas libres")
    assert text_and_wait(page, "1", "su cita es el").startswith("Listo, su cita es el ")
    reply = text_and_wait(page, "tengo una pregunta sobre mi factura", "Le pasé su mensaje")
    assert "Le contestarán antes de la" in reply  # staff have the conversation now
    reply = text_and_wait(page, "me duele mucho el pecho y no puedo respirar", "911")  # while staff have it
    assert reply.startswith("Si es una emergencia, llame al 911") and "988" in reply
    text_and_wait(page, "PARAR", "ya no le enviaremos mensajes")
    text_and_wait(page, "INICIAR", "de nuevo le enviaremos mensajes")

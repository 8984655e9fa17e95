"""Serve the staff inbox on loopback: ``python -m web`` (port STAFF_PORT, default 8000)."""
from __future__ import annotations

import logging

from bot.privacy import install_log_masking
from bot.settings import get_settings
from web import create_app


def main() -> None:
    settings = get_settings()
    install_log_masking(settings.log_level)
    app = create_app(settings)
    logging.getLogger(__name__).info("staff inbox on http://%s:%s", settings.host, settings.staff_port)
    try:
        from waitress import serve
    except ImportError:  # Flask's threaded server is enough for a front desk
        app.run(host=settings.host, port=settings.staff_port, threaded=True)
    else:
        serve(app, host=settings.host, port=settings.staff_port, threads=8)


if __name__ == "__main__":
    main()

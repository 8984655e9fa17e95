"""POST /api/bills: the statement import (:func:`bot.messaging.bills.import_statements`) over HTTP.

For the practice-management system, not for staff: no login cookie, but ``Authorization: Bearer
<BILLS_API_TOKEN>`` (unset: the endpoint answers 401 to everyone). The body is CSV (``text/csv``, the
columns of ``bills import``) or JSON (a list of objects with the same keys); ``?dry_run=1`` changes nothing.
200 with the rows; 400 with every bad row (nothing imported); 401 without the token. Every call is audited.
"""
from __future__ import annotations

import hmac

from flask import Blueprint, jsonify, request

from bot.messaging import bills
from bot.staff.accounts import audit
from web.auth import PUBLIC_ENDPOINTS, db, now, settings

bp = Blueprint("bills_api", __name__)
PUBLIC_ENDPOINTS.add("bills_api.import_bills")  # its own bearer token instead of a staff login


def _authorised() -> bool:
    token = settings().bills_api_token
    sent = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())


@bp.post("/api/bills")
def import_bills():
    if not _authorised():
        with db() as session:
            audit(session, "denied", now(), detail="POST /api/bills: no or wrong bearer token")
        return jsonify({"error": "a valid bearer token is required"}), 401
    dry_run = request.args.get("dry_run", "").lower() in ("1", "true", "yes")
    try:
        if request.mimetype == "text/csv":
            records = bills.csv_records(request.get_data(as_text=True))
        else:
            records = bills.json_records(request.get_json(force=True, silent=True))
    except ValueError as exc:
        return jsonify({"error": str(exc)}), 400
    try:
        with db() as session:
            result = bills.import_statements(session, records, now(), dry_run=dry_run)
            audit(session, "bills_import", now(), detail=f"{len(result.rows)} rows, {len(result.bad)} bad, "
                                                          f"{'imported' if result.written else 'not imported'}")
    except bills.BillingNotConfigured as exc:
        return jsonify({"error": str(exc)}), 400
    return jsonify(result.as_dict()), 200 if result.ok else 400

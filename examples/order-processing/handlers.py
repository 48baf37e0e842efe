"""Lambda-style handlers for the order workflow: ``handler(event, context) -> result``.

An exception fails the Task the way AWS Lambda reports it: the error name is the
exception's class name (``CardDeclined``), the cause is Lambda's JSON error payload.
``TASKS`` maps each Lambda function name to its handler (``stepfn run --tasks handlers.py``).
"""

from __future__ import annotations

from typing import Any


class CardDeclined(Exception):
    """The card issuer refused the charge."""


class PaymentGatewayTimeout(Exception):
    """The payment gateway did not answer in time (worth retrying)."""


def validate_order(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if not event.get("items"):
        return {"valid": False, "reason": "the order has no items"}
    if not event.get("total", 0) > 0:
        return {"valid": False, "reason": "the total must be positive"}
    return {"valid": True}


def charge_payment(event: dict[str, Any], context: Any) -> dict[str, Any]:
    card = str(event["card"])
    if card.startswith("4000"):
        raise CardDeclined(f"card ending {card[-4:]} was declined")
    return {"chargeId": f"ch_{event['orderId']}", "amount": event["amount"]}


def ship_order(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"trackingNumber": f"TRK-{event['orderId']}", "parcels": len(event["items"])}


TASKS = {
    "validate-order": validate_order,
    "charge-payment": charge_payment,
    "ship-order": ship_order,
}

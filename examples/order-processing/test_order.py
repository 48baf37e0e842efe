"""Unit tests of the order workflow with stepfn's ``sfn`` pytest fixture.

Runs use a virtual clock: the one-hour Wait and the retry back-off take no real time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stepfn import TaskFailed

HERE = Path(__file__).parent
MACHINE = HERE / "machine.asl.json"
CARD = "4242424242424242"
ORDER = {"orderId": "o-1", "total": 120, "card": CARD, "items": [{"sku": "book", "qty": 1}]}


@pytest.fixture
def shop(sfn):
    """The harness with the real Lambda-style handlers loaded."""
    sfn.use(HERE / "handlers.py")
    return sfn


def test_order_is_charged_then_shipped_an_hour_later(shop):
    result = shop.run(MACHINE, ORDER)

    assert result.status == "SUCCEEDED"
    assert result.output == {"orderId": "o-1", "status": "SHIPPED", "chargeId": "ch_o-1", "trackingNumber": "TRK-o-1"}
    assert result.path == ["ValidateOrder", "RouteOrder", "ChargePayment", "WaitForWarehouse", "ShipOrder",
                           "OrderShipped"]
    assert result.elapsed == 3600  # virtual time
    assert shop.calls("charge-payment") == [{"orderId": "o-1", "amount": 120, "card": CARD}]
    assert result.outputs["ChargePayment"]["payment"] == {"chargeId": "ch_o-1", "amount": 120}


def test_big_orders_are_flagged_for_review(shop):
    result = shop.run(MACHINE, {**ORDER, "total": 1500})

    assert result.succeeded
    assert "FlagForReview" in result.path
    assert result.state("FlagForReview").output["review"] is True


def test_gateway_timeouts_are_retried_then_the_order_is_cancelled(shop):
    timeout = TaskFailed("PaymentGatewayTimeout", "no answer in 10s")
    charge = shop.mock("ChargePayment", side_effect=[timeout, timeout, timeout])

    result = shop.run(MACHINE, ORDER)

    assert result.output == {"orderId": "o-1", "status": "CANCELLED", "reason": "PaymentGatewayTimeout"}
    assert charge.call_count == 3  # the first attempt and MaxAttempts=2 retries
    assert result.elapsed == 2 + 4  # IntervalSeconds=2, BackoffRate=2
    assert not result.entered("ShipOrder")


def test_a_declined_card_is_caught(shop):
    result = shop.run(MACHINE, {**ORDER, "card": "4000000000000002"})

    assert result.output["status"] == "CANCELLED"
    assert result.output["reason"] == "CardDeclined"
    assert result.state("CancelOrder").input["failure"]["Error"] == "CardDeclined"


def test_an_invalid_order_is_rejected(shop):
    shop.mock("validate-order", returns={"valid": False, "reason": "the order has no items"})

    result = shop.run(MACHINE, {**ORDER, "items": []})

    assert result.status == "FAILED"
    assert (result.error, result.cause) == ("OrderInvalid", "the order has no items")


@pytest.mark.stepfn(mock_config="MockConfigFile.json", test_case="HappyPath")
def test_happy_path_from_the_aws_mock_file(sfn):
    result = sfn.run(MACHINE, ORDER)

    assert result.output == {"orderId": "o-1", "status": "SHIPPED", "chargeId": "ch_mocked",
                             "trackingNumber": "TRK-mocked"}


@pytest.mark.stepfn(mock_config="MockConfigFile.json", test_case="RetryThenCatch")
def test_retry_then_catch_from_the_aws_mock_file(shop):
    result = shop.run(MACHINE, ORDER)

    assert result.output["status"] == "CANCELLED"
    assert len(shop.calls("ChargePayment")) == 3


def test_charge_payment_alone(sfn):
    result = sfn.test_state(MACHINE, "ChargePayment", ORDER, returns={"chargeId": "ch_1", "amount": 120},
                            inspection="DEBUG")

    assert result.status == "SUCCEEDED"
    assert result.next_state == "WaitForWarehouse"
    assert result.inspection["afterParameters"] == {"orderId": "o-1", "amount": 120, "card": CARD}
    assert result.output["payment"] == {"chargeId": "ch_1", "amount": 120}


def test_a_timeout_alone_is_retriable_until_the_retrier_is_spent(sfn):
    timeout = ("PaymentGatewayTimeout", "slow")

    first = sfn.test_state(MACHINE, "ChargePayment", ORDER, raises=timeout, inspection="DEBUG")
    last = sfn.test_state(MACHINE, "ChargePayment", ORDER, raises=timeout, retrier_retry_count=2)

    assert (first.status, first.next_state) == ("RETRIABLE", "ChargePayment")
    assert first.inspection["errorDetails"] == {"retryIndex": 0, "retryBackoffIntervalSeconds": 2}
    assert (last.status, last.next_state) == ("CAUGHT_ERROR", "CancelOrder")
    assert last.output["failure"] == {"Error": "PaymentGatewayTimeout", "Cause": "slow"}

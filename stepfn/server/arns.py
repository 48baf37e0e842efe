"""Names and ARNs as Step Functions forms and checks them, and who is asking.

``Caller`` is the account and region of a request: from the SigV4 credential scope of
its ``Authorization`` header (the signature is not checked; a 12-digit access key is the
account), else Step Functions Local's defaults (``AWS_ACCOUNT_ID`` / ``AWS_DEFAULT_REGION``
when set).  ``parse`` splits an ARN and raises AWS's ``InvalidArn`` texts.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from stepfn.server.protocol import ApiError, invalid_arn, invalid_name

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"

# whitespace, brackets, wildcards, the special characters AWS lists, and control characters
_FORBIDDEN = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([a-z0-9-]+)/")
_ALIAS = re.compile(r"[A-Za-z0-9_.-]*[A-Za-z_.-][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class Caller:
    account: str
    region: str

    def arn(self, kind: str, *parts: str) -> str:
        return f"arn:aws:states:{self.region}:{self.account}:{kind}:" + ":".join(parts)


def default_caller() -> Caller:
    return Caller(os.environ.get("AWS_ACCOUNT_ID", DEFAULT_ACCOUNT), os.environ.get("AWS_DEFAULT_REGION",
                                                                                     DEFAULT_REGION))


def caller_of(authorization: str | None, fallback: Caller) -> Caller:
    """The account and region a request's SigV4 credential scope names."""
    if authorization:
        found = _CREDENTIAL.search(authorization)
        if found is not None:
            key, region = found.groups()
            account = key if len(key) == 12 and key.isdigit() else fallback.account
            return Caller(account, region)
    return fallback


def check_name(name: str) -> None:
    """AWS's ``InvalidName`` for a state machine, execution or activity name."""
    if not name or _FORBIDDEN.search(name):
        raise invalid_name(name)


def check_alias_name(name: str) -> None:
    if not _ALIAS.fullmatch(name):
        raise invalid_name(name)


@dataclass(frozen=True)
class Arn:
    """A Step Functions ARN split into its parts."""

    text: str
    region: str
    account: str
    kind: str  # stateMachine, execution, express, activity, mapRun
    resource: tuple[str, ...]

    @property
    def caller(self) -> Caller:
        return Caller(self.account, self.region)


def parse(value: str, *kinds: str) -> Arn:
    """Split a Step Functions ARN of one of ``kinds``; AWS's ``InvalidArn`` otherwise."""
    parts = value.split(":")
    if len(parts) < 7 or parts[0] != "arn" or parts[1] not in ("aws", "aws-cn", "aws-us-gov") or parts[2] != "states":
        raise invalid_arn(value)
    region, account, kind = parts[3], parts[4], parts[5]
    if not region or not (account.isdigit() and len(account) == 12) or any(p == "" for p in parts[6:]):
        raise invalid_arn(value)
    if kinds and kind not in kinds:
        raise invalid_arn(value, f"Resource type not valid in this context: {kind}")
    return Arn(value, region, account, kind, tuple(parts[6:]))


def state_machine_arn(value: str) -> tuple[Arn, str | None]:
    """A state machine ARN, and the qualifier after the name (a version number, an alias, or None).

    Step Functions Local's ``<arn>#<TestCase>`` suffix is left to the caller.
    """
    arn = parse(value, "stateMachine")
    if len(arn.resource) > 2:
        raise invalid_arn(value)
    if "/" in arn.resource[0]:
        raise ApiError(
            "ValidationException", f"Invalid Arn: '{value}'", reason="API_DOES_NOT_SUPPORT_LABELED_ARNS"
        )
    return arn, arn.resource[1] if len(arn.resource) == 2 else None

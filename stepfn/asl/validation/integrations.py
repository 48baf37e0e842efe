"""Task resources that name an optimized integration AWS does not offer.

``arn:aws:states:::dynamodb:query`` is refused at definition time, as AWS refuses it:
DynamoDB's optimized integration has getItem, putItem, updateItem and deleteItem only
(every other action goes through ``aws-sdk:dynamodb:<action>``).  Only services whose
whole optimized list is known here are checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stepfn.errors import Problem

# The actions of AWS's optimized integrations, for the services whose whole list is known
# here (any action of any service goes through ``aws-sdk:<service>:<action>`` instead).
OPTIMIZED_ACTIONS = {
    "dynamodb": frozenset({"getItem", "putItem", "updateItem", "deleteItem"}),
    "sqs": frozenset({"sendMessage"}),
    "sns": frozenset({"publish"}),
    "events": frozenset({"putEvents"}),
    "states": frozenset({"startExecution"}),
    "lambda": frozenset({"invoke"}),
    "http": frozenset({"invoke"}),
    "glue": frozenset({"startJobRun"}),
    "batch": frozenset({"submitJob"}),
    "ecs": frozenset({"runTask"}),
    "athena": frozenset({"startQueryExecution", "stopQueryExecution", "getQueryExecution", "getQueryResults"}),
}


def integration_problems(state: Mapping[str, Any], here: str) -> list[Problem]:
    """A Task naming an optimized action AWS does not offer (``dynamodb:query``)."""
    resource = state.get("Resource")
    if state.get("Type") != "Task" or not isinstance(resource, str):
        return []
    parts = resource.split(":")
    if len(parts) != 7 or parts[0] != "arn" or parts[2] != "states" or any(parts[3:5]):
        return []
    service, action = parts[5], parts[6].split(".", 1)[0]
    known = OPTIMIZED_ACTIONS.get(service)
    if known is None or action in known:
        return []
    return [Problem(
        f"{here}/Resource",
        "resource.unknown",
        f"The resource provided {resource} is not recognized. The value is not a valid resource ARN, or the "
        f"resource is not available in this region. (Any SDK action: arn:aws:states:::aws-sdk:{service}:{action})",
    )]

"""The words validation shares: state types, which fields each query language allows, exclusive pairs, AWS's texts.
"""

from __future__ import annotations

from collections.abc import Mapping

SCHEMA_RESOURCE = "asl.schema.json"
MACHINE_TYPES = ("STANDARD", "EXPRESS")
JSONPATH = "JSONPath"
JSONATA = "JSONata"

# States that end a scope on their own, and the states that need Next or End.
TERMINAL_TYPES = frozenset({"Succeed", "Fail"})
FLOW_TYPES = frozenset({"Pass", "Task", "Wait", "Parallel", "Map"})
KNOWN_TYPES = TERMINAL_TYPES | FLOW_TYPES | {"Choice"}

# Fields that only one query language allows (state level).
JSONPATH_ONLY = (
    "InputPath",
    "OutputPath",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "Result",
    "ItemsPath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "SecondsPath",
    "TimestampPath",
    "ErrorPath",
    "CausePath",
    "MaxConcurrencyPath",
    "ToleratedFailurePercentagePath",
    "ToleratedFailureCountPath",
)
JSONATA_ONLY = ("Arguments", "Output", "Items")
# Numeric fields that take a JSONata string only in JSONata states.
NUMERIC_FIELDS = (
    "TimeoutSeconds",
    "HeartbeatSeconds",
    "Seconds",
    "MaxConcurrency",
    "ToleratedFailurePercentage",
    "ToleratedFailureCount",
)
# Choice rule fields a JSONata rule may carry; everything else belongs to JSONPath rules.
JSONATA_RULE_FIELDS = frozenset({"Condition", "Next", "Assign", "Output", "Comment"})
RULE_COMBINATORS = ("And", "Or", "Not")

# At-most-one pairs per state type: (first, second); the second is reported.
EXCLUSIVE: Mapping[str, tuple[tuple[str, str], ...]] = {
    "Task": (("TimeoutSeconds", "TimeoutSecondsPath"), ("HeartbeatSeconds", "HeartbeatSecondsPath")),
    "Fail": (("Error", "ErrorPath"), ("Cause", "CausePath")),
    "Map": (
        ("ItemSelector", "Parameters"),
        ("MaxConcurrency", "MaxConcurrencyPath"),
        ("ToleratedFailurePercentage", "ToleratedFailurePercentagePath"),
        ("ToleratedFailureCount", "ToleratedFailureCountPath"),
    ),
}
SUB_EXCLUSIVE: Mapping[str, tuple[tuple[str, str], ...]] = {
    "ItemBatcher": (
        ("MaxItemsPerBatch", "MaxItemsPerBatchPath"),
        ("MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath"),
    ),
}
WAIT_FIELDS = ("Seconds", "Timestamp", "SecondsPath", "TimestampPath")

# AWS's wording (CreateStateMachine, SCHEMA_VALIDATION_FAILED) for Express limits.
EXPRESS_SYNC = "Express state machine does not support '.sync' service integration"
EXPRESS_TOKEN = "Express state machine does not support '.waitForTaskToken' service integration"
EXPRESS_ACTIVITY = "Express state machine does not support Activity ARN"

TYPE_WORDS = {"object": "a JSON object", "array": "an array", "string": "a string", "null": "null"}
TYPE_WORDS.update({"integer": "an integer", "number": "a number", "boolean": "a boolean"})

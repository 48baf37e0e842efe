"""A Distributed Map's data on S3: ``ItemReader`` and ``ResultWriter``.

Reading (``arn:aws:states:::s3:getObject`` with ``ReaderConfig.InputType``):

* ``JSON``: the top-level array (or the array ``ItemsPointer`` points at); anything else
  fails with ``States.ItemReaderFailed``, "Attempting to map over non-iterable node.";
* ``JSONL``: one JSON value per non-empty line;
* ``CSV``: one object per row, keyed by the first row (``CSVHeaderLocation: FIRST_ROW``)
  or by ``CSVHeaders`` (``GIVEN``); every value a string; short rows padded with ``""``,
  long rows cut; ``CSVDelimiter`` COMMA, PIPE, SEMICOLON, SPACE or TAB;
* ``MANIFEST``: an S3 inventory ``manifest.json``; its CSV files' rows, keyed by its
  ``fileSchema``.

``arn:aws:states:::s3:listObjectsV2`` gives one item per object (``Etag``,
``LastModified``, ``Key``, ``Size``, ``StorageClass``), or with ``Transformation:
LOAD_AND_FLATTEN`` the items inside every listed object.  ``MaxItems`` caps the count.

Writing (``arn:aws:states:::s3:putObject`` with ``Bucket``/``Prefix``): under
``<Prefix>/<map run id>/``, ``SUCCEEDED_0.json`` and ``FAILED_0.json`` (only when there are
such children) and ``manifest.json`` listing them; the Map's result is
``{"MapRunArn", "ResultWriterDetails": {"Bucket", "Key"}}``.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Mapping
from typing import Any

from stepfn import errors
from stepfn.aws.sdk import iso_time
from stepfn.aws.shapes import ServiceFailure

GET_OBJECT = "s3:getObject"
LIST_OBJECTS = "s3:listObjectsV2"
PUT_OBJECT = "s3:putObject"
DELIMITERS = {"COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "SPACE": " ", "TAB": "\t"}
NON_ITERABLE = "Attempting to map over non-iterable node."
MAX_CSV_HEADER = 10 * 1024  # AWS's limit on a CSV header row


def _failed(cause: str) -> ServiceFailure:
    return ServiceFailure(errors.ITEM_READER_FAILED, cause)


def _action(resource: str) -> str:
    """``s3:getObject`` of ``arn:aws:states:::s3:getObject``."""
    return ":".join(resource.split(":")[5:])


def _s3_call(backend: Any, method: str, error: str, **kwargs: Any) -> Any:
    from botocore.exceptions import ClientError

    try:
        return getattr(backend.client("s3"), method)(**kwargs)
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise ServiceFailure(error, f"{err.get('Message') or err.get('Code')} (Service: S3, Status Code: "
                                    f"{exc.response.get('ResponseMetadata', {}).get('HTTPStatusCode', 400)})") from None
    except Exception as exc:  # noqa: BLE001 - no answer from the endpoint
        raise ServiceFailure(error, f"Unable to execute HTTP request: {exc}") from None


def read_items(backend: Any, reader: Mapping[str, Any], params: Any, max_items: int) -> list[Any]:
    params = params if isinstance(params, Mapping) else {}
    config = reader.get("ReaderConfig") or {}
    action = _action(str(reader.get("Resource", "")))
    items: list[Any]
    if action == LIST_OBJECTS and config.get("Transformation") == "LOAD_AND_FLATTEN":
        items = []  # the content of every listed object, read as InputType says
        for listed in _list_objects(backend, params, 0):
            if max_items and len(items) >= max_items:
                break
            body = _s3_call(backend, "get_object", errors.ITEM_READER_FAILED, Bucket=params.get("Bucket"),
                            Key=listed["Key"])["Body"].read()
            items += parse_items(body, config, backend, str(listed["Key"]))
    elif action == LIST_OBJECTS:
        items = list(_list_objects(backend, params, max_items))
    elif action == GET_OBJECT:
        kwargs = {k: params[k] for k in ("Bucket", "Key", "VersionId", "ExpectedBucketOwner") if k in params}
        body = _s3_call(backend, "get_object", errors.ITEM_READER_FAILED, **kwargs)["Body"].read()
        items = parse_items(body, config, backend, str(params.get("Key", "")))
    else:
        raise _failed(f"The ItemReader resource {reader.get('Resource')!r} is not supported.")
    return items[:max_items] if max_items else items


def parse_items(body: bytes, config: Mapping[str, Any], backend: Any = None, key: str = "") -> list[Any]:
    """The items in an object's content, as ``ReaderConfig`` says to read it."""
    if key.endswith(".gz") or body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    text = body.decode("utf-8-sig", errors="replace")
    kind = config.get("InputType", "JSON")
    if kind == "JSON":
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise _failed(f"The object is not valid JSON: {exc}") from None
        pointer = config.get("ItemsPointer")
        if isinstance(pointer, str) and pointer:
            doc = _pointer(doc, pointer)
        if not isinstance(doc, list):
            raise _failed(NON_ITERABLE)
        return doc
    if kind == "JSONL":
        out = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except ValueError:
                    raise _failed(f"Line {n} is not valid JSON.") from None
        return out
    if kind == "CSV":
        return csv_items(text, config)
    if kind == "MANIFEST":
        return _manifest_items(backend, text)
    raise _failed(f"InputType {kind!r} is not supported.")


def _pointer(doc: Any, pointer: str) -> Any:
    for part in pointer.lstrip("/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(doc, dict) and part in doc:
            doc = doc[part]
        elif isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        else:
            raise _failed(f"The ItemsPointer {pointer!r} does not point at a value.")
    return doc


def csv_rows(text: str, delimiter: str = ",") -> Iterator[list[str]]:
    """The records of delimited text: quotes optional, a quoted field may hold delimiters and
    newlines, ``""`` keeps a quote, a backslash escapes a backslash, quote or delimiter
    (and is dropped before anything else); empty lines are skipped."""
    row: list[str] = []
    field: list[str] = []
    quoted = False
    started = False  # the record has at least one character
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n:  # the backslash goes; what follows is kept as text
            field.append(text[i + 1])
            i += 2
            started = True
            continue
        if quoted:
            if c == '"':
                if i + 1 < n and text[i + 1] == '"':
                    field.append('"')
                    i += 1
                else:
                    quoted = False
            else:
                field.append(c)
        elif c == '"':
            quoted = True
            started = True
        elif c == delimiter:
            row.append("".join(field))
            field = []
            started = True
        elif c in "\r\n":
            if c == "\r" and i + 1 < n and text[i + 1] == "\n":
                i += 1
            if started or field:
                row.append("".join(field))
                yield row
            row, field, started = [], [], False
        else:
            field.append(c)
            started = True
        i += 1
    if started or field:
        row.append("".join(field))
        yield row


def csv_items(text: str, config: Mapping[str, Any]) -> list[dict[str, str]]:
    delimiter = DELIMITERS.get(str(config.get("CSVDelimiter", "COMMA")), ",")
    rows = csv_rows(text, delimiter)
    if config.get("CSVHeaderLocation", "FIRST_ROW") == "GIVEN":
        headers = [str(h) for h in config.get("CSVHeaders") or []]
    else:
        headers = next(rows, [])
    if len(delimiter.join(headers).encode()) > MAX_CSV_HEADER:
        raise _failed("CSV headers cannot exceed 10 KiB.")
    if len(set(headers)) != len(headers):
        raise _failed("CSV headers cannot contain duplicates.")
    width = len(headers)
    return [dict(zip(headers, row[:width] + [""] * (width - len(row)), strict=True)) for row in rows]


def _manifest_items(backend: Any, text: str) -> list[Any]:
    """The rows of an S3 inventory: ``manifest.json`` names the CSV files and their schema."""
    try:
        manifest = json.loads(text)
        bucket = str(manifest["destinationBucket"]).rsplit(":", 1)[-1]
        schema = [h.strip() for h in str(manifest["fileSchema"]).split(",")]
        files = [f["key"] for f in manifest["files"]]
    except (ValueError, KeyError, TypeError):
        raise _failed("The manifest is not an S3 inventory manifest.") from None
    out: list[Any] = []
    for key in files:
        body = _s3_call(backend, "get_object", errors.ITEM_READER_FAILED, Bucket=bucket, Key=key)["Body"].read()
        if key.endswith(".gz"):
            body = gzip.decompress(body)
        out += csv_items(body.decode("utf-8", errors="replace"), {"CSVHeaderLocation": "GIVEN", "CSVHeaders": schema})
    return out


def _list_objects(backend: Any, params: Mapping[str, Any], max_items: int) -> Iterator[dict[str, Any]]:
    kwargs = {k: params[k] for k in ("Bucket", "Prefix", "Delimiter", "StartAfter") if k in params}
    count = 0
    while True:
        page = _s3_call(backend, "list_objects_v2", errors.ITEM_READER_FAILED, **kwargs)
        for obj in page.get("Contents", []):
            modified = obj.get("LastModified")
            yield {
                "Etag": obj.get("ETag"),
                "LastModified": iso_time(modified) if modified is not None else None,
                "Key": obj.get("Key"),
                "Size": obj.get("Size"),
                "StorageClass": obj.get("StorageClass"),
            }
            count += 1
            if max_items and count >= max_items:
                return
        if not page.get("IsTruncated"):
            return
        kwargs["ContinuationToken"] = page["NextContinuationToken"]


# -- ResultWriter -------------------------------------------------------------------------


def _record(child: Mapping[str, Any]) -> dict[str, Any]:
    """A child execution as AWS exports it (Transformation NONE)."""
    out: dict[str, Any] = {
        "ExecutionArn": child.get("ExecutionArn"),
        "Input": json.dumps(child.get("Input"), separators=(",", ":")),
        "InputDetails": {"Included": True},
        "Name": child.get("Name"),
    }
    if child.get("Status") == "SUCCEEDED":
        out["Output"] = json.dumps(child.get("Output"), separators=(",", ":"))
        out["OutputDetails"] = {"Included": True}
    else:
        out["Error"] = child.get("Error")
        out["Cause"] = child.get("Cause")
    out.update(
        RedriveCount=0,
        RedriveStatus="NOT_REDRIVABLE",
        RedriveStatusReason="Execution is SUCCEEDED and cannot be redriven",
        StartDate=_date(child.get("StartDate")),
        StateMachineArn=child.get("StateMachineArn"),
        Status=child.get("Status", "PENDING"),
        StopDate=_date(child.get("StopDate")),
    )
    if out["Status"] != "SUCCEEDED":
        out["RedriveStatus"] = "REDRIVABLE"
        out["RedriveStatusReason"] = None
    return out


def _date(value: Any) -> Any:
    return iso_time(value) if hasattr(value, "strftime") else value


def _compact(child: Mapping[str, Any], flatten: bool) -> list[Any]:
    value = child.get("Output") if child.get("Status") == "SUCCEEDED" else {
        "Error": child.get("Error"), "Cause": child.get("Cause")}
    return list(value) if flatten and isinstance(value, list) else [value]


def write_results(backend: Any, writer: Mapping[str, Any], params: Any, run: Mapping[str, Any]) -> Any:
    params = params if isinstance(params, Mapping) else {}
    bucket = params.get("Bucket")
    if not isinstance(bucket, str) or not bucket:
        raise ServiceFailure(errors.RESULT_WRITER_FAILED, "The ResultWriter needs a Bucket.")
    arn = str(run["MapRunArn"])
    prefix = str(params.get("Prefix") or "").strip("/")
    folder = f"{prefix}/{arn.rsplit(':', 1)[-1]}" if prefix else arn.rsplit(":", 1)[-1]
    config = writer.get("WriterConfig") or {}
    jsonl = config.get("OutputType") == "JSONL"
    transformation = config.get("Transformation", "NONE")
    extension = "jsonl" if jsonl else "json"
    files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
    for status in ("SUCCEEDED", "FAILED"):
        children = [c for c in run.get("Executions", []) if c.get("Status") == status]
        if not children:
            continue
        if transformation == "NONE" or status == "FAILED":
            values: list[Any] = [_record(c) for c in children]
        else:
            values = [v for c in children for v in _compact(c, transformation == "FLATTEN")]
        if jsonl:
            body = "".join(json.dumps(v, separators=(",", ":")) + "\n" for v in values).encode()
        else:
            body = json.dumps(values, separators=(",", ":")).encode()
        key = f"{folder}/{status}_0.{extension}"
        _s3_call(backend, "put_object", errors.RESULT_WRITER_FAILED, Bucket=bucket, Key=key, Body=body)
        files[status].append({"Key": key, "Size": len(body)})
    manifest = {"DestinationBucket": bucket, "MapRunArn": arn, "ResultFiles": files}
    key = f"{folder}/manifest.json"
    _s3_call(backend, "put_object", errors.RESULT_WRITER_FAILED, Bucket=bucket, Key=key,
             Body=json.dumps(manifest, separators=(",", ":")).encode())
    return {"MapRunArn": arn, "ResultWriterDetails": {"Bucket": bucket, "Key": key}}

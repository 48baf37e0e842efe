"""Which AWS a run talks to, and the boto3 clients bound to it.

Three backends, chosen per run and never real AWS by accident:

* ``moto`` (the default): moto's AWS inside this process, one per process (the pytest
  fixture empties it for each test).  Each client carries a
  ``before-send`` hook that hands the request to moto and returns its response; a
  request moto does not serve fails instead of reaching the network.  Nothing global is
  patched: boto3 clients created elsewhere in the process are left alone.
* an endpoint URL (``http://127.0.0.1:5000``): any AWS-compatible endpoint, with dummy
  credentials unless the caller's credential chain has some.
* ``real``: the caller's boto3 credential chain; the first client prints one line on
  stderr naming the account.

:class:`AwsBackend` is the :class:`~stepfn.runtime.services.ServiceBackend` a run gets;
``client(service)`` hands out clients bound to the same backend (the pytest fixture's
``sfn.aws``).  boto3 is imported on the first client, never before.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any

from stepfn import errors
from stepfn.errors import MissingHandlerError, StatesError, UsageError
from stepfn.runtime.execution import ACCOUNT, REGION
from stepfn.runtime.handlers import Handler

MOTO, REAL = "moto", "real"
INSTALL = "pip install 'stepfn[aws]'"
DUMMY_KEY = "testing"
_moto_lock = threading.RLock()  # guards client creation and the shared sessions


def missing_packages(mode: str) -> list[str]:
    """The packages a backend needs that cannot be imported (empty when all are there)."""
    import importlib.util

    wanted = ["boto3"] + (["moto"] if mode == MOTO else [])
    missing = []
    for name in wanted:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # an import hook that hides it
            found = False
        if not found:
            missing.append(name)
    return missing


class AwsBackend:
    """boto3 clients for one backend, and the Task handlers that use them."""

    def __init__(
        self,
        mode: str = MOTO,
        *,
        region: str | None = None,
        notice: Callable[[str], Any] | None = None,
        fresh: bool = False,
    ) -> None:
        if mode not in (MOTO, REAL) and not mode.startswith(("http://", "https://")):
            raise UsageError(f"aws must be 'moto', 'real' or an endpoint URL (http://...), not {mode!r}")
        self.mode = mode
        self.region = region or REGION
        self.endpoint = mode if mode not in (MOTO, REAL) else None
        self._notice = notice if notice is not None else _stderr
        self._clients: dict[str, Any] = {}
        self._session: Any = None
        self._missing: list[str] | None = None
        self._fresh = fresh and mode == MOTO  # empty the process's moto on first use

    def __repr__(self) -> str:
        return f"AwsBackend({self.mode!r}, region={self.region!r})"

    # -- availability ------------------------------------------------------------------

    def missing(self) -> list[str]:
        if self._missing is None:
            self._missing = missing_packages(self.mode)
        return self._missing

    def require(self, what: str) -> None:
        """Refuse, with what to install, when boto3 (or moto) is not importable."""
        missing = self.missing()
        if missing:
            raise MissingHandlerError(
                f"{what} needs the AWS backend, which needs {' and '.join(missing)}: {INSTALL} "
                "(or register a handler or mock for it)"
            )

    # -- clients -----------------------------------------------------------------------

    def client(self, service: str) -> Any:
        """A boto3 client for ``service`` (boto3's name: ``dynamodb``, ``sqs``, ``s3`` ...)."""
        found = self._clients.get(service)
        if found is not None:
            return found
        self.require(f"the {service} client")
        with _moto_lock:  # boto3 sessions are not thread-safe, and the dummy ones are shared
            found = self._clients.get(service)
            if found is None:
                if self._fresh:
                    self._fresh = False
                    reset_moto()
                key = (self.region, service)
                if self.mode == MOTO:  # moto's state is the process's: so can its clients be
                    found = _embedded.get(key)
                    if found is None:
                        found = _embedded[key] = self._make_client(service)
                else:
                    found = self._make_client(service)
                self._clients[service] = found
        return found

    def _make_client(self, service: str) -> Any:
        from botocore.config import Config

        config = Config(
            retries={"max_attempts": 1, "mode": "standard"},
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            connect_timeout=5,
            read_timeout=60,
        )
        if self._session is None:
            self._session = self._new_session()
        kwargs: dict[str, Any] = {"region_name": self.region, "config": config}
        if self.endpoint is not None:
            kwargs["endpoint_url"] = self.endpoint
        client = self._session.client(service, **kwargs)
        if self.mode == MOTO:
            _embed(client)
        return client

    def _new_session(self) -> Any:
        import boto3

        if self.mode == MOTO:
            return _dummy_session(self.region)
        if self.mode == REAL:
            session = boto3.session.Session(region_name=self.region)
            try:
                account = session.client("sts").get_caller_identity()["Account"]
            except Exception as exc:  # noqa: BLE001 - no credentials, no network: say so once
                account = f"unknown ({type(exc).__name__})"
            self._notice(f"stepfn: Task states call real AWS, account {account}, region {self.region}")
            return session
        session = boto3.session.Session(region_name=self.region)
        if session.get_credentials() is None:
            session = _dummy_session(self.region)
        return session

    def reset(self) -> None:
        """Empty the embedded backend (moto only): every table, queue, bucket ... goes."""
        if self.mode != MOTO:
            raise UsageError("only the embedded moto backend can be reset")
        self._fresh = True
        with _moto_lock:
            self._clients.clear()
            self._session = None

    # -- ServiceBackend ------------------------------------------------------------------

    def handler(self, resource: str) -> Handler | None:
        from stepfn.aws.integrations import handler_for, parse

        found = handler_for(self, resource)
        if found is None:
            return None
        if parse(resource)[0] == "http":  # type: ignore[index]
            import importlib.util

            if importlib.util.find_spec("httpx") is None:
                raise MissingHandlerError(f"resource {resource!r} needs httpx: {INSTALL}")
        else:
            self.require(f"resource {resource!r}")
        return found

    def read_items(self, reader: Mapping[str, Any], parameters: Any, max_items: int) -> list[Any]:
        from stepfn.aws.items import read_items

        self._require_in_run(errors.ITEM_READER_FAILED, "ItemReader")
        return read_items(self, reader, parameters, max_items)

    def write_results(self, writer: Mapping[str, Any], parameters: Any, run: Mapping[str, Any]) -> Any:
        from stepfn.aws.items import write_results

        self._require_in_run(errors.RESULT_WRITER_FAILED, "ResultWriter")
        return write_results(self, writer, parameters, run)

    def _require_in_run(self, error: str, what: str) -> None:
        """Inside a run a missing package fails the state, with what to install."""
        try:
            self.require(what)
        except MissingHandlerError as exc:
            raise StatesError(error, str(exc)) from None


def backend(spec: AwsBackend | str | None = None, *, region: str | None = None, fresh: bool = False) -> AwsBackend:
    """The backend ``spec`` names: None or ``"moto"`` (the process's embedded moto; emptied
    first when ``fresh``), ``"real"``, an endpoint URL, or an :class:`AwsBackend` (as is)."""
    if isinstance(spec, AwsBackend):
        return spec
    return AwsBackend(spec or MOTO, region=region, fresh=fresh)


_shared: dict[str, Any] = {}
_embedded: dict[tuple[str, str], Any] = {}  # (region, service) -> a client answered by moto


def _dummy_session(region: str) -> Any:
    """The boto3 session with dummy credentials for ``region``, one per process (so each
    service model loads once); clients are made from it under ``_moto_lock``."""
    import boto3

    if region not in _shared:
        _shared[region] = boto3.session.Session(
            aws_access_key_id=DUMMY_KEY, aws_secret_access_key=DUMMY_KEY, region_name=region
        )
    return _shared[region]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# -- moto, embedded ----------------------------------------------------------------------

def _moto_stubber() -> Any:
    """moto's request dispatcher (importing moto the first time, with stepfn's account)."""
    os.environ.setdefault("MOTO_ACCOUNT_ID", ACCOUNT)
    from moto.core.models import botocore_stubber

    return botocore_stubber


def reset_moto() -> None:
    """Forget everything the embedded moto holds."""
    _moto_stubber()
    from moto.core.base_backend import BackendDict

    with _moto_lock:
        BackendDict.reset()


class NotServed(Exception):
    """A request the embedded backend cannot answer (it never goes to the network)."""


def _embed(client: Any) -> None:
    """Answer every request of ``client`` from moto, in this process."""
    stubber = _moto_stubber()
    from botocore.awsrequest import AWSResponse
    from moto.core.botocore_stubber import MockRawResponse

    from stepfn.aws.tokens import answer as answer_token

    def send(request: Any, **_: Any) -> Any:
        target = request.headers.get("X-Amz-Target")
        answer = None
        if target is not None:  # SendTask* for a token a served Task issued: the run answers
            answer = answer_token(target.decode() if isinstance(target, bytes) else str(target), request.body)
        if answer is None:
            answer = stubber.process_request(request)  # moto serves its threaded server this way too
        if answer is None:
            raise NotServed(f"the embedded moto backend does not serve {request.url}")
        status, headers, body = answer
        return AWSResponse(request.url, status, headers, MockRawResponse(body))

    client.meta.events.register("before-send", send)

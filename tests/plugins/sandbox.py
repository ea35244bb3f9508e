"""Pytest plugin: a running Parley sandbox (Cloud API simulator) and a webhook receiver.

Imports only the standard library and pytest, so it works in the services env and in the
Python 3.10 bot env alike; the sandbox itself always runs in the services env, as a
subprocess (``PARLEY_SERVICES_PYTHON`` if set, else ``sys.executable``).

Fixtures:
- ``sandbox_server`` (session): the ``python -m sandbox`` process on a free port, with short
  test timings (``TEST_ENV`` below; status delays 20/40/60 ms, read probability 1).
- ``sandbox`` (function): reset before the test; a ``SandboxHandle`` with the ids, secrets
  and sync helpers.
- ``webhook_receiver`` (function): a threaded HTTP server recording every POST and answering
  the GET verification handshake; point the sandbox at it with
  ``sandbox.configure(webhook_url=webhook_receiver.url)``.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Union

import pytest

from devstack.lifetime import die_with_parent

REPO_ROOT = Path(__file__).resolve().parents[2]
API_VERSION = "v23.0"
#: Settings of the session sandbox: real defaults, but fast timings for tests.
TEST_ENV = {
    "SANDBOX_STATUS_DELAYS_MS": "20,40,60",
    "SANDBOX_READ_PROBABILITY": "1",
    "SANDBOX_TEMPLATE_REVIEW_MS": "50",
    "SANDBOX_WEBHOOK_RETRY_BASE_MS": "50",
    "SANDBOX_WEBHOOK_RETRY_CAP_MS": "1000",
    "SANDBOX_WEBHOOK_TIMEOUT_MS": "3000",
    "SANDBOX_HANDSHAKE_RETRY_MS": "100",
    "SANDBOX_CHAOS_TIMEOUT_MS": "3000",
    "SANDBOX_LOG_LEVEL": "WARNING",
}
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(method: str, url: str, body: Any = None, headers: Optional[Dict[str, str]] = None,
         timeout: float = 10.0, raw: Optional[bytes] = None) -> Tuple[int, bytes]:
    """One HTTP call without proxies; returns (status, body bytes) for every status."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None and not request.has_header("Content-type"):
        request.add_header("Content-Type", "application/json")
    try:
        with _NO_PROXY.open(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def signature_ok(app_secret: str, raw_body: bytes, header: Optional[str]) -> bool:
    """Check ``X-Hub-Signature-256`` over the raw bytes, as a receiver must."""
    expected = "sha256=" + hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return header is not None and hmac.compare_digest(expected, header)


class SandboxProcess:
    """``python -m sandbox`` in a subprocess on a free port."""

    def __init__(self, log_path: Path, extra_env: Optional[Dict[str, str]] = None, port: Optional[int] = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        python = os.environ.get("PARLEY_SERVICES_PYTHON") or sys.executable
        env = dict(os.environ)
        env.update(TEST_ENV)
        env.update(extra_env or {})
        env.update({"SANDBOX_HOST": "127.0.0.1", "SANDBOX_PORT": str(self.port)})
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")]))
        self._log = open(log_path, "wb")
        self.process = subprocess.Popen(
            [python, "-m", "sandbox"], cwd=str(REPO_ROOT), env=env, stdout=self._log, stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                status, _ = http("GET", f"{self.url}/_sandbox/health", timeout=1.0)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"sandbox did not start; log:\n{self.log_path.read_text(errors='replace')[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._log.close()


class SandboxHandle:
    """What a test needs to drive the sandbox: ids, secrets, and sync helpers over HTTP."""

    def __init__(self, url: str) -> None:
        self.url = url
        config = self.get("/_sandbox/config")
        self.api_version: str = config.get("api_version", API_VERSION)
        self.graph_url = f"{url}/{self.api_version}"
        self.access_token: str = config["access_token"]
        self.app_secret: str = config["app_secret"]
        self.verify_token: str = config["verify_token"]
        self.phone_number_id: str = config["phone_number_id"]
        self.display_phone_number: str = config["display_phone_number"]
        self.waba_id: str = config["waba_id"]

    # -- plumbing --------------------------------------------------------------------------
    def request(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Tuple[int, Any]:
        status, raw = http(method, self.url + path, body, **kwargs)
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw

    def get(self, path: str) -> Any:
        status, body = self.request("GET", path)
        assert status == 200, (path, status, body)
        return body

    def post(self, path: str, body: Any = None) -> Any:
        status, answer = self.request("POST", path, body if body is not None else {})
        assert status in (200, 201), (path, status, answer)
        return answer

    def graph(self, method: str, path: str, body: Any = None, token: Optional[str] = None,
              raw: Optional[bytes] = None, headers: Optional[Dict[str, str]] = None) -> Tuple[int, Any]:
        """A Graph API call under ``/{version}``, with the Bearer token unless ``token`` is given."""
        all_headers = {"Authorization": f"Bearer {token if token is not None else self.access_token}"}
        all_headers.update(headers or {})
        return self.request(method, f"/{self.api_version}{path}", body, headers=all_headers, raw=raw)

    def send(self, payload: Dict[str, Any], token: Optional[str] = None) -> Tuple[int, Any]:
        """``POST /{version}/{phone_number_id}/messages``."""
        return self.graph("POST", f"/{self.phone_number_id}/messages", payload, token=token)

    # -- helpers of docs/contracts.md ------------------------------------------------------
    def reset(self) -> None:
        self.post("/_sandbox/reset")

    def configure(self, **cfg: Any) -> Dict[str, Any]:
        status, body = self.request("PATCH", "/_sandbox/config", cfg)
        assert status == 200, (status, body)
        return body["config"]

    def customer_sends(self, wa_id: str, message: Dict[str, Any], name: Optional[str] = None) -> str:
        body = dict(message)
        if name is not None:
            body["name"] = name
        return str(self.post(f"/_sandbox/customers/{wa_id}/messages", body)["wamid"])

    def preferences(self, wa_id: str, value: str) -> Dict[str, Any]:
        return self.post(f"/_sandbox/customers/{wa_id}/preferences", {"value": value})

    def outbox(self, to: Optional[str] = None) -> List[Dict[str, Any]]:
        query = f"?to={urllib.parse.quote(to)}" if to else ""
        return list(self.get(f"/_sandbox/outbox{query}")["messages"])

    def webhooks(self) -> List[Dict[str, Any]]:
        return list(self.get("/_sandbox/webhooks")["deliveries"])

    def conversation(self, wa_id: str) -> Dict[str, Any]:
        return dict(self.get(f"/_sandbox/customers/{wa_id}/conversation"))

    def wait_for_outbox(self, predicate_or_count: Union[int, Callable[[List[Dict[str, Any]]], bool]],
                        timeout: float = 5.0, to: Optional[str] = None) -> List[Dict[str, Any]]:
        """Poll the outbox until it has N messages or ``predicate(messages)`` holds."""
        return _wait(lambda: self.outbox(to), predicate_or_count, timeout, "outbox")

    def wait_for_webhooks(self, predicate_or_count: Union[int, Callable[[List[Dict[str, Any]]], bool]],
                          timeout: float = 5.0) -> List[Dict[str, Any]]:
        return _wait(self.webhooks, predicate_or_count, timeout, "webhook deliveries")

    def set_template_status(self, template_id: str, status: str, reason: Optional[str] = None) -> Dict[str, Any]:
        body: Dict[str, Any] = {"status": status}
        if reason is not None:
            body["reason"] = reason
        return self.post(f"/_sandbox/templates/{template_id}/status", body)

    def template_id(self, name: str, language: str) -> str:
        status, body = self.graph("GET", f"/{self.waba_id}/message_templates?name={name}&limit=100")
        assert status == 200, body
        for template in body["data"]:
            if template["name"] == name and template["language"] == language:
                return str(template["id"])
        raise KeyError((name, language))


def _wait(fetch: Callable[[], List[Dict[str, Any]]], predicate_or_count: Any, timeout: float,
          what: str) -> List[Dict[str, Any]]:
    if isinstance(predicate_or_count, int):
        count = predicate_or_count
        predicate: Callable[[List[Dict[str, Any]]], bool] = lambda items: len(items) >= count
    else:
        predicate = predicate_or_count
    deadline = time.monotonic() + timeout
    items = fetch()
    while not predicate(items):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {json.dumps(items)[:2000]}")
        time.sleep(0.02)
        items = fetch()
    return items


# -- webhook receiver ----------------------------------------------------------------------

@dataclass
class ReceivedRequest:
    path: str
    headers: Dict[str, str]
    body: bytes
    at: float = field(default_factory=time.time)

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver:
    """A stdlib HTTP server in a thread that records POSTs and answers a configurable status."""

    def __init__(self, verify_token: str = "sandbox-verify") -> None:
        self.verify_token = verify_token
        self.requests: List[ReceivedRequest] = []
        self.handshakes: List[Dict[str, str]] = []
        self._status = 200
        self._scripted: List[int] = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status = receiver._record(ReceivedRequest(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self._answer(status, b"{}" if status == 200 else b"{\"error\":\"scripted\"}")

            def do_GET(self) -> None:
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                with receiver._cond:
                    receiver.handshakes.append(query)
                    receiver._cond.notify_all()
                if query.get("hub.mode") == "subscribe" and query.get("hub.verify_token") == receiver.verify_token:
                    self._answer(200, query.get("hub.challenge", "").encode(), "text/plain")
                else:
                    self._answer(403, b"forbidden", "text/plain")

            def _answer(self, status: int, body: bytes, content_type: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/webhook"
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True)
        self._thread.start()

    def _record(self, request: ReceivedRequest) -> int:
        with self._cond:
            self.requests.append(request)
            status = self._scripted.pop(0) if self._scripted else self._status
            self._cond.notify_all()
        return status

    def respond_with(self, status: int, times: Optional[int] = None) -> None:
        """Answer ``status`` from now on, or only for the next ``times`` POSTs (then the old status)."""
        with self._cond:
            if times is None:
                self._status = status
                self._scripted.clear()
            else:
                self._scripted.extend([status] * times)

    def wait_for(self, n: int, timeout: float = 5.0) -> List[ReceivedRequest]:
        """Block until at least ``n`` POSTs arrived; return them all."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.requests) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {n} webhook POSTs within {timeout}s, got {len(self.requests)}")
                self._cond.wait(left)
            return list(self.requests)

    def wait_until(self, predicate: Callable[["WebhookReceiver"], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"condition not met within {timeout}s; {len(self.requests)} POSTs received")
                self._cond.wait(left)

    def changes(self, field_name: Optional[str] = None) -> Iterator[Dict[str, Any]]:
        """Every ``changes[]`` item of every POST received so far, in arrival order."""
        for request in list(self.requests):
            for entry in request.json().get("entry", []):
                for change in entry.get("changes", []):
                    if field_name is None or change.get("field") == field_name:
                        yield change

    def statuses(self) -> List[Dict[str, Any]]:
        return [s for change in self.changes("messages") for s in change["value"].get("statuses", [])]

    def messages(self) -> List[Dict[str, Any]]:
        return [m for change in self.changes("messages") for m in change["value"].get("messages", [])]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="session")
def sandbox_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    process = SandboxProcess(tmp_path_factory.mktemp("sandbox") / "sandbox.log")
    process.wait_ready()
    yield process
    process.stop()


@pytest.fixture
def sandbox(sandbox_server: SandboxProcess) -> SandboxHandle:
    status, body = http("POST", f"{sandbox_server.url}/_sandbox/reset", {})
    assert status == 200, body
    return SandboxHandle(sandbox_server.url)


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()

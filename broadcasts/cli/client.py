"""The CLI's one way to the REST API: `Api.call` over an `httpx.Client`.

Every failure becomes a `CliError` carrying the exit status and one line for the user::

    CliError
     ├── connection refused / timeout / other transport error   (status 1)
     ├── 401: no or refused token -> set PARLEY_API_TOKEN        (status 1)
     └── any other HTTP error: the server's ``error`` message     (status 1)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional
from urllib.parse import quote

import httpx

DEFAULT_URL = "http://127.0.0.1:8789"
API_ERROR, USAGE = 1, 2
TOKEN_HINT = ("set PARLEY_API_TOKEN (or --token) to an API token from handoff "
              "(POST /api/tokens, or `python -m handoff create-token --agent ID`)")


class CliError(Exception):
    """A failure to report in one line; ``code`` is the process exit status."""

    def __init__(self, message: str, code: int = API_ERROR) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Target:
    """Where the API is and who calls it."""

    url: str
    token: str
    timeout: float = 60.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str], url: Optional[str] = None,
                 token: Optional[str] = None) -> "Target":
        """Flags win over ``BROADCASTS_URL`` / ``PARLEY_API_TOKEN``."""
        return cls((url or environ.get("BROADCASTS_URL") or DEFAULT_URL).rstrip("/"),
                   token or environ.get("PARLEY_API_TOKEN", ""))


def segment(value: Any) -> str:
    """One URL path segment (a phone keeps its ``+``)."""
    return quote(str(value), safe="+@")


class Api:
    """JSON calls to the broadcasts REST API. ``transport`` is for tests (``httpx.MockTransport``)."""

    def __init__(self, target: Target, transport: Optional[httpx.BaseTransport] = None) -> None:
        headers = {"Accept": "application/json", "User-Agent": "parley-broadcasts-cli"}
        if target.token:
            headers["Authorization"] = f"Bearer {target.token}"
        self.target = target
        self.http = httpx.Client(base_url=target.url, headers=headers, timeout=target.timeout,
                                 transport=transport)

    def __enter__(self) -> "Api":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.http.close()

    def call(self, method: str, path: str, *, json: Any = None, params: Optional[Dict[str, Any]] = None,
             content: Any = None, headers: Optional[Dict[str, str]] = None) -> Any:
        """The decoded JSON answer, or `CliError`."""
        try:
            response = self.http.request(method, path, json=json, params=params, content=content,
                                         headers=headers)
        except httpx.ConnectError as exc:
            reason = "connection refused" if "refused" in str(exc).lower() else str(exc) or type(exc).__name__
            raise CliError(f"cannot reach the broadcasts API at {self.target.url}: {reason} "
                           "(is it running? set --url or BROADCASTS_URL)") from None
        except httpx.TimeoutException:
            raise CliError(f"the broadcasts API at {self.target.url} did not answer within "
                           f"{self.target.timeout:.0f} s") from None
        except httpx.HTTPError as exc:
            raise CliError(f"request to {self.target.url}{path} failed: {exc}") from None
        return self._decode(response)

    def _decode(self, response: httpx.Response) -> Any:
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code == 401:
            given = "the API token was refused" if self.target.token else "no API token given"
            raise CliError(f"unauthorized (401): {given}; {TOKEN_HINT}")
        if response.status_code >= 400:
            if isinstance(data, dict) and data.get("error"):
                message = data.get("message") or data["error"]
                kind = data.get("kind") or data["error"]
                raise CliError(f"error {response.status_code} ({kind}): {message}")
            raise CliError(f"error {response.status_code}: {response.text[:200].strip() or response.reason_phrase}")
        if data is None and response.content:
            raise CliError(f"the server at {self.target.url} did not answer JSON (is it the broadcasts API?)")
        return data

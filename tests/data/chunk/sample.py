"""HTTP client helpers."""
import json
import os
from typing import Any

DEFAULT_TIMEOUT = 30


# Retries a callable a few times.
@retry(times=3)
def fetch(url: str, timeout: int = DEFAULT_TIMEOUT) -> bytes:
    """Downloads url."""
    return b""


class Client(Base):
    """Talks to the API."""

    base_url = "https://example.com"

    def __init__(self, token: str):
        self.token = token

    @property
    def headers(self) -> dict:
        return {"Authorization": self.token}

    def get(self, path: str) -> Any:
        def _inner():
            return path
        return json.loads(_inner())

    class Error(Exception):
        code = 0

        def describe(self):
            return str(self.code)


if __name__ == "__main__":
    client = Client(os.environ["TOKEN"])
    print(client.get("/users"))
    print(client.headers)

"""The live API the tests run against: ``PHOENIX_BASE_URL`` (a ``phoenix serve`` with a diagnostics worker),
``PHOENIX_SERVICE_TOKEN`` and ``JWT_SECRET_KEY`` (to sign users' tokens), as scripts/check-clients.sh sets them."""

import base64
import hashlib
import hmac
import json
import os
import sys
import time
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="session")
def base_url() -> str:
    return os.environ["PHOENIX_BASE_URL"]


@pytest.fixture(scope="session")
def service_token() -> str:
    return os.environ["PHOENIX_SERVICE_TOKEN"]


@pytest.fixture(scope="session")
def user_token():
    """Signs a signed-in user's token (HS256 with the server's secret)."""
    secret = os.environ["JWT_SECRET_KEY"].encode()

    def sign(user_id: str) -> str:
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        claims = _b64(json.dumps({"role": "authenticated", "sub": user_id, "aud": "authenticated", "exp": int(time.time()) + 600}).encode())
        signature = _b64(hmac.new(secret, f"{header}.{claims}".encode(), hashlib.sha256).digest())
        return f"{header}.{claims}.{signature}"

    return sign


@pytest.fixture
def paused_diagnostics(base_url, service_token):
    """Pauses the diagnostics queue, so that jobs wait until ``resume()``; resumes it at the end regardless."""
    headers = {"Authorization": f"Bearer {service_token}"}

    def resume() -> None:
        httpx.post(f"{base_url}/v1/queues/diagnostics/resume", headers=headers).raise_for_status()

    httpx.post(f"{base_url}/v1/queues/diagnostics/pause", headers=headers).raise_for_status()
    yield resume
    resume()

"""Fixtures of the OpenAI conformance suite. scripts/conformance.sh starts `crynux serve` and sets the environment."""

import json
import os
import subprocess
import uuid
from pathlib import Path

import httpx2
import jsonschema
import openai
import pydantic
import pytest

ENVIRONMENT = ("CRYNUX_BASE_URL", "CRYNUX_ROOT_URL", "CRYNUX_RELAY_URL", "CRYNUX_API_KEY", "CRYNUX_ADMIN_TOKEN", "CRYNUX_BIN", "CRYNUX_DATA_DIR")
SCHEMAS = json.loads((Path(__file__).parent / "openai-schemas.json").read_text())
# A whole request may wait for the tiny model on a busy CPU; nothing should take longer than this.
TIMEOUT = 120.0


def pytest_configure(config):
    missing = [name for name in ENVIRONMENT if not os.environ.get(name)]
    if missing:
        raise pytest.UsageError(
            f"{', '.join(missing)} not set: run the suite through scripts/conformance.sh CRYNUX_BIN, which starts the server"
        )


def env(name: str) -> str:
    return os.environ[name]


def validate(name: str, body) -> None:
    """Checks `body` (parsed JSON) against `$defs/<name>` of openai-schemas.json (JSON Schema 2020-12)."""
    assert name in SCHEMAS["$defs"], f"no schema {name}"
    schema = dict(SCHEMAS, **{"$ref": f"#/$defs/{name}"})
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        details = "\n".join(f"  at /{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10])
        pytest.fail(f"body is not a valid {name}:\n{details}\nbody: {json.dumps(body)[:2000]}")


def official(model_type, body) -> None:
    """Checks `body` against the official SDK's own type for it (`openai.types…`, `anthropic.types…`, generated from the
    providers' API specifications): pydantic validation fails on a missing required field or a wrong type."""
    try:
        pydantic.TypeAdapter(model_type).validate_python(body)
    except pydantic.ValidationError as error:
        pytest.fail(f"body is not a valid {model_type}: {error}\nbody: {json.dumps(body)[:2000]}")


def sse_frames(response) -> list:
    """The (event name or None, data) of each server-sent event, in order; comments are skipped."""
    frames, event, data = [], None, []
    for line in response.iter_lines():
        if line == "":
            if data:
                frames.append((event, "\n".join(data)))
            event, data = None, []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            data.append(value)
        elif field == "event":
            event = value
    if data:
        frames.append((event, "\n".join(data)))
    return frames


def typed_events(api, path: str, request: dict, schema: str, model_type, unchecked=()) -> list:
    """POSTs `request` to `path` as a stream and returns its events (`event:`-named SSE, as the Responses and Messages
    APIs send them): each name matches its `type`, and each event is checked against `$defs/<schema>` and, unless its
    type is in `unchecked`, against the official SDK's `model_type`."""
    with api.stream("POST", path, json=request) as response:
        assert response.status_code == 200, response.read().decode(errors="replace")[:500]
        assert response.headers.get("content-type", "").startswith("text/event-stream")
        frames = sse_frames(response)
    events = []
    for name, data in frames:
        event = json.loads(data)
        assert name == event["type"], f"event: {name} carries a {event['type']}"
        validate(schema, event)
        if event["type"] not in unchecked:
            official(model_type, event)
        events.append(event)
    return events


class NewKey(str):
    """An API key as `crynux keys create` printed it; `.id` is the key's id."""

    id: str

    def __new__(cls, secret: str, key_id: str):
        key = super().__new__(cls, secret)
        key.id = key_id
        return key


def create_key(name=None, rpm=None, tpm=None, budget=None, models=None, expires=None) -> NewKey:
    command = [env("CRYNUX_BIN"), "keys", "create", "--data-dir", env("CRYNUX_DATA_DIR")]
    command += ["--name", name or f"conformance-{uuid.uuid4().hex[:8]}"]
    if rpm is not None:
        command += ["--rpm", str(rpm)]
    if tpm is not None:
        command += ["--tpm", str(tpm)]
    if budget is not None:
        command += ["--budget", str(budget)]
    if models is not None:
        command += ["--models", models if isinstance(models, str) else ",".join(models)]
    if expires is not None:
        command += ["--expires", expires]
    run = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, f"{' '.join(command)} failed ({run.returncode}): {run.stderr.strip()}"
    lines = [line for line in run.stdout.splitlines() if line.startswith("sk-crynux-")]
    assert len(lines) == 1, f"keys create printed no `sk-crynux-…<TAB>id` line: {run.stdout!r}"
    secret, tab, key_id = lines[0].partition("\t")
    assert tab and secret and key_id.strip(), f"keys create printed {lines[0]!r}, not `sk-crynux-…<TAB>id`"
    return NewKey(secret.strip(), key_id.strip())


def openai_client(api_key: str, max_retries: int = 0) -> openai.OpenAI:
    return openai.OpenAI(base_url=env("CRYNUX_BASE_URL"), api_key=api_key, max_retries=max_retries, timeout=TIMEOUT)


@pytest.fixture(scope="session")
def client() -> openai.OpenAI:
    c = openai_client(env("CRYNUX_API_KEY"))
    yield c
    c.close()


@pytest.fixture(scope="session")
def model(client) -> str:
    models = client.models.list().data
    assert models, "GET /v1/models lists no model"
    return models[0].id


@pytest.fixture(scope="session", name="validate")
def validate_fixture():
    """`validate(name, body)`: fails the test unless `body` is a valid `$defs/<name>`."""
    return validate


@pytest.fixture(scope="session")
def new_key():
    """`new_key(rpm=, tpm=, budget=, models=, expires=, name=)`: a fresh API key (a str with `.id`) from `crynux keys create`."""
    return create_key


@pytest.fixture(scope="session")
def make_client():
    """`make_client(api_key, max_retries=0)`: an `openai.OpenAI` on the Bridge with another key."""
    made = []

    def make(api_key: str, max_retries: int = 0) -> openai.OpenAI:
        c = openai_client(api_key, max_retries)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def root_client(token=None) -> httpx2.Client:
    """An HTTP client on the Bridge's root URL, with `token` as the bearer when given."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx2.Client(base_url=env("CRYNUX_ROOT_URL"), headers=headers, timeout=TIMEOUT)


@pytest.fixture(scope="session")
def admin() -> httpx2.Client:
    """An HTTP client on the Bridge's root URL with the admin token."""
    with root_client(env("CRYNUX_ADMIN_TOKEN")) as c:
        yield c


@pytest.fixture(scope="session")
def http() -> httpx2.Client:
    """An HTTP client on the Bridge's root URL with no credentials."""
    with root_client() as c:
        yield c


@pytest.fixture(scope="session")
def api() -> httpx2.Client:
    """An HTTP client on the Bridge's root URL with the first API key, for requests the openai package cannot make."""
    with root_client(env("CRYNUX_API_KEY")) as c:
        yield c

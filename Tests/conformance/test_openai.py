"""The Bridge through the official `openai` package, with every body checked against openai-schemas.json."""

import json
import re
import time
import uuid

import httpx2
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import env, sse_frames, validate

HELLO = [{"role": "user", "content": "Say hello."}]


# --- helpers ---------------------------------------------------------------------------------------------------


def check_error(error: openai.APIStatusError, status: int, code=None, param=None) -> dict:
    """The error's HTTP status, its body as an OpenAI error envelope, its x-request-id; returns `body["error"]`."""
    response = error.response
    assert response.status_code == status, f"status {response.status_code}, expected {status}: {response.text[:500]}"
    body = response.json()
    validate("ErrorResponse", body)
    assert response.headers.get("x-request-id"), "the error response has no x-request-id header"
    assert error.request_id == response.headers["x-request-id"]
    if code is not None:
        assert body["error"]["code"] == code, body
        assert error.code == code
    if param is not None:
        assert body["error"]["param"] == param, body
        assert error.param == param
    return body["error"]


def sse_events(response: httpx2.Response) -> list:
    """The `data` of each server-sent event, in order (comments such as `: keep-alive` skipped)."""
    return [data for _, data in sse_frames(response)]


def chat_raw(client, **kwargs):
    """A non-streamed chat completion: (parsed object, raw JSON body); the raw body is checked against the schema."""
    raw = client.chat.completions.with_raw_response.create(**kwargs)
    body = json.loads(raw.text)
    validate("CreateChatCompletionResponse", body)
    return raw.parse(), body


def check_usage(usage) -> None:
    assert usage is not None, "no usage"
    assert usage.prompt_tokens > 0
    assert usage.completion_tokens >= 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


# --- models ----------------------------------------------------------------------------------------------------


def test_models_list(client, model):
    raw = client.models.with_raw_response.list()
    validate("ListModelsResponse", json.loads(raw.text))
    assert model in [m.id for m in client.models.list().data]


def test_models_retrieve(client, model):
    assert "/" in model, f"the model id {model!r} is a Hugging Face id (owner/name)"
    raw = client.models.with_raw_response.retrieve(model)
    validate("Model", json.loads(raw.text))
    assert raw.parse().id == model


def test_models_retrieve_unknown(client):
    with pytest.raises(openai.NotFoundError) as info:
        client.models.retrieve("no-such-org/no-such-model")
    check_error(info.value, 404, code="model_not_found")


# --- chat completions ------------------------------------------------------------------------------------------


def test_chat(client, model):
    completion, body = chat_raw(client, model=model, messages=HELLO, max_tokens=16)
    assert body["object"] == "chat.completion"
    assert body["model"] == model
    assert len(completion.choices) == 1
    choice = completion.choices[0]
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert isinstance(choice.message.content, str) and choice.message.content.strip(), body
    assert choice.finish_reason in ("stop", "length")
    check_usage(completion.usage)
    assert completion.usage.completion_tokens <= 16
    assert isinstance(completion._request_id, str) and completion._request_id
    assert "system_fingerprint" not in body, "OpenAI's schema allows a string or nothing, never null"


def test_chat_stream_raw_sse(api, client, model):
    request = {
        "model": model,
        "messages": HELLO,
        "max_tokens": 16,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with api.stream("POST", "/v1/chat/completions", json=request) as response:
        assert response.status_code == 200, response.read().decode(errors="replace")[:500]
        assert response.headers.get("content-type", "").startswith("text/event-stream")
        assert response.headers.get("x-request-id")
        events = sse_events(response)
    assert events and events[-1] == "[DONE]", f"the stream does not end with data: [DONE]: {events[-3:]}"
    assert events.count("[DONE]") == 1
    chunks = [json.loads(e) for e in events[:-1]]
    assert len(chunks) >= 3, chunks
    for chunk in chunks:
        validate("CreateChatCompletionStreamResponse", chunk)
    assert len({c["id"] for c in chunks}) == 1, "the chunks of one stream share one id"
    assert all(c["model"] == model for c in chunks)

    first = chunks[0]
    assert first["choices"] and first["choices"][0]["delta"].get("role") == "assistant", first
    # The last chunk carries the usage and no choices; every other carries usage null.
    last = chunks[-1]
    assert last["choices"] == [], last
    assert isinstance(last.get("usage"), dict), last
    usage = last["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert 0 < usage["completion_tokens"] <= 16
    for chunk in chunks[:-1]:
        assert chunk.get("usage") is None, chunk
        assert len(chunk["choices"]) == 1, chunk
        assert chunk["choices"][0]["index"] == 0
    finishing = [i for i, c in enumerate(chunks[:-1]) if c["choices"][0]["finish_reason"] is not None]
    assert len(finishing) == 1, f"one chunk has a finish_reason: {chunks}"
    assert finishing[0] == len(chunks) - 2, "the finish_reason chunk comes last before the usage chunk"
    assert chunks[finishing[0]]["choices"][0]["finish_reason"] in ("stop", "length")
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[:-1])
    assert text.strip(), "the stream carried no content"
    assert any(c["choices"][0]["delta"].get("content") for c in chunks[1:-1]), "no content chunk after the role chunk"

    # The same request through the openai package: the same (greedy) text, every chunk valid.
    stream = client.chat.completions.create(
        model=model, messages=HELLO, max_tokens=16, temperature=0, stream=True, stream_options={"include_usage": True}
    )
    pieces, saw_usage = [], False
    for chunk in stream:
        validate("CreateChatCompletionStreamResponse", chunk.model_dump(exclude_unset=True))
        if chunk.usage is not None:
            saw_usage = True
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
    assert saw_usage, "the openai package saw no usage chunk"
    assert "".join(pieces) == text, "the same greedy request streamed through the openai package gave other text"


def test_chat_stream_delivers_tokens_as_the_node_makes_them(api, client, model):
    """A long answer streams as many content chunks, spread over the generation, adding up to the whole answer."""
    request = {"model": model, "messages": [{"role": "user", "content": "Write a story about a dragon."}], "max_tokens": 64, "temperature": 0}
    arrivals = []
    with api.stream("POST", "/v1/chat/completions", json={**request, "stream": True}) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: {"):
                chunk = json.loads(line[6:])
                validate("CreateChatCompletionStreamResponse", chunk)
                for choice in chunk["choices"]:
                    if choice["delta"].get("content"):
                        arrivals.append((time.monotonic(), choice["delta"]["content"]))
    assert len(arrivals) > 5, f"{len(arrivals)} content chunks for a 64-token answer"
    assert arrivals[-1][0] - arrivals[0][0] > 0.1, "the chunks came in one burst, not as the tokens were made"
    whole = client.chat.completions.create(**request)
    assert "".join(text for _, text in arrivals) == whole.choices[0].message.content


def test_chat_n2(client, model):
    completion, body = chat_raw(client, model=model, messages=HELLO, max_tokens=8, n=2, temperature=1, seed=7)
    assert sorted(c.index for c in completion.choices) == [0, 1], body
    for choice in completion.choices:
        assert isinstance(choice.message.content, str)
        assert choice.finish_reason in ("stop", "length")
    check_usage(completion.usage)


def test_chat_stop(client, model):
    messages = [{"role": "user", "content": "Write one sentence about the sea."}]
    full, _ = chat_raw(client, model=model, messages=messages, max_tokens=32, temperature=0)
    answer = full.choices[0].message.content
    # A word from the middle of the answer; a stop sequence cuts at its first occurrence anywhere in the text.
    candidates = []
    for match in re.finditer(r"[A-Za-z]{3,}", answer):
        at = answer.find(match.group())
        if at > 0 and answer[:at].strip():
            candidates.append((abs(at - len(answer) / 2), at, match.group()))
    if not candidates:
        pytest.fail(f"the greedy answer has no word to stop at: {answer!r}")
    _, at, word = min(candidates)
    stopped, body = chat_raw(client, model=model, messages=messages, max_tokens=32, temperature=0, stop=[word])
    content = stopped.choices[0].message.content
    assert word not in content, body
    assert content.rstrip() == answer[:at].rstrip(), f"stop={word!r}: {content!r}, expected {answer[:at]!r} (answer {answer!r})"
    assert stopped.choices[0].finish_reason == "stop"


def test_chat_max_tokens_length(client, model):
    messages = [{"role": "user", "content": "Write a long story about a dragon."}]
    completion, body = chat_raw(client, model=model, messages=messages, max_tokens=3)
    assert completion.usage.completion_tokens <= 3, body
    assert completion.choices[0].finish_reason == "length", body


def test_chat_seed_reproducible(client, model):
    request = dict(
        model=model, messages=[{"role": "user", "content": "Tell me a fact."}], max_tokens=16, temperature=1.0, seed=1234
    )
    first, _ = chat_raw(client, **request)
    second, _ = chat_raw(client, **request)
    assert first.choices[0].message.content == second.choices[0].message.content


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city's name."}},
            "required": ["city"],
        },
    },
}


def tool_call_text(city):
    return '<tool_call>{"name": "get_weather", "arguments": {"city": "%s"}}</tool_call>' % city


# The 135M model follows a few-shot pattern under greedy decoding (the engine is deterministic), so the
# Bridge's Hermes parser is exercised on a real model answer, not on a canned string.
FEW_SHOT_TOOLS = [
    {"role": "system", "content": "You call tools. Reply only with a tool call."},
    {"role": "user", "content": "What is the weather in Berlin?"},
    {"role": "assistant", "content": tool_call_text("Berlin")},
    {"role": "user", "content": "What is the weather in Rome?"},
    {"role": "assistant", "content": tool_call_text("Rome")},
    {"role": "user", "content": "What is the weather in Paris?"},
]


def test_chat_tool_call(client, model):
    completion, body = chat_raw(client, model=model, messages=FEW_SHOT_TOOLS, tools=[WEATHER_TOOL], temperature=0, max_tokens=64)
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls", body
    assert choice.message.tool_calls, body
    call = choice.message.tool_calls[0]
    assert call.id
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert choice.message.content in (None, "")
    # The conversation goes on with the call and the tool's answer, as OpenAI clients send them.
    follow_up = FEW_SHOT_TOOLS + [
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": '{"temperature_c": 18}'},
    ]
    completion, _ = chat_raw(client, model=model, messages=follow_up, tools=[WEATHER_TOOL], temperature=0, max_tokens=16)
    assert completion.choices[0].finish_reason in ("stop", "length", "tool_calls")


def test_chat_tool_choice_unknown_function(client, model):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model=model,
            messages=HELLO,
            max_tokens=8,
            tools=[WEATHER_TOOL],
            tool_choice={"type": "function", "function": {"name": "no_such_function"}},
        )
    error = check_error(info.value, 400)
    assert error["param"] == "tool_choice" or (error["param"] or "").startswith("tool_choice."), error


def test_chat_tools_not_function(client, model):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(
            model=model, messages=HELLO, max_tokens=8, tools=[{"type": "retrieval", "retrieval": {}}]
        )
    error = check_error(info.value, 400)
    assert error["param"] == "tools" or re.match(r"tools\[\d+\]", error["param"] or ""), error


def test_chat_json_object_needs_the_word_json(client, model):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=model, messages=HELLO, max_tokens=8, response_format={"type": "json_object"})
    check_error(info.value, 400, param="response_format")


# --- errors ----------------------------------------------------------------------------------------------------


def test_wrong_api_key(make_client, model):
    wrong = make_client("sk-crynux-" + "0" * 40)
    with pytest.raises(openai.AuthenticationError) as info:
        wrong.chat.completions.create(model=model, messages=HELLO, max_tokens=8)
    check_error(info.value, 401, code="invalid_api_key")
    assert info.value.status_code == 401


def test_chat_unknown_model(client):
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="no-such-org/no-such-model", messages=HELLO, max_tokens=8)
    check_error(info.value, 404, code="model_not_found")


def test_frequency_penalty_unsupported(client, model):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=model, messages=HELLO, max_tokens=8, frequency_penalty=0.5)
    check_error(info.value, 400, param="frequency_penalty")


def test_unknown_parameter(client, model):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=model, messages=HELLO, max_tokens=8, extra_body={"bogus_param": 1})
    check_error(info.value, 400, param="bogus_param")


def test_embeddings_not_available(client, model):
    with pytest.raises(openai.NotFoundError) as info:
        client.embeddings.create(model=model, input="hello")
    check_error(info.value, 404)


# --- keys: rate limits, budgets, model lists, expiry -----------------------------------------------------------


def test_rate_limit_rpm(new_key, make_client, model):
    key = new_key(rpm=1)
    once = make_client(key, max_retries=0)
    request = dict(model=model, messages=HELLO, max_tokens=4)
    once.chat.completions.create(**request)
    with pytest.raises(openai.RateLimitError) as info:
        once.chat.completions.create(**request)
    limited_at = time.monotonic()
    check_error(info.value, 429, code="rate_limit_exceeded")
    headers = info.value.response.headers
    retry_after = headers.get("retry-after", "")
    assert retry_after.isdigit(), f"retry-after is whole seconds: {retry_after!r}"
    retry_after = int(retry_after)
    assert 0 <= retry_after <= 60
    assert headers.get("x-ratelimit-limit-requests") == "1"
    assert headers.get("x-ratelimit-remaining-requests") == "0"

    # The openai package waits as retry-after says, then succeeds.
    patient = make_client(key, max_retries=3)
    completion = patient.chat.completions.create(**request)
    waited = time.monotonic() - limited_at
    assert completion.choices[0].message.content is not None
    assert waited >= retry_after - 1, f"the request succeeded {waited:.1f} s after a retry-after of {retry_after} s"


def test_budget_exhausted(new_key, make_client, model):
    key = new_key(budget="15")  # one request's hold on the embedded network: 5 CNX, three times (a validation group)
    c = make_client(key)
    c.chat.completions.create(model=model, messages=HELLO, max_tokens=4)
    with pytest.raises(openai.RateLimitError) as info:
        c.chat.completions.create(model=model, messages=HELLO, max_tokens=4)
    check_error(info.value, 429, code="insufficient_quota")


def test_key_models_restriction(new_key, make_client, model):
    key = new_key(models="some/other-model")
    c = make_client(key)
    with pytest.raises(openai.NotFoundError) as info:
        c.chat.completions.create(model=model, messages=HELLO, max_tokens=4)
    check_error(info.value, 404, code="model_not_found")


def test_key_expired(new_key, make_client, model):
    key = new_key(expires="+1s")
    time.sleep(2.1)
    c = make_client(key)
    with pytest.raises(openai.AuthenticationError) as info:
        c.chat.completions.create(model=model, messages=HELLO, max_tokens=4)
    check_error(info.value, 401)


# --- idempotency -----------------------------------------------------------------------------------------------


def usage_rows(body) -> list:
    """The rows of GET /admin/usage: the body itself when it is a list, else its first list of objects."""
    if isinstance(body, list):
        return body
    for value in body.values():
        if isinstance(value, list) and all(isinstance(row, dict) for row in value):
            return value
    pytest.fail(f"GET /admin/usage has no rows: {body}")


def test_idempotency_key(new_key, make_client, admin, model):
    key = new_key()
    c = make_client(key)
    request = dict(
        model=model,
        messages=[{"role": "user", "content": "Tell me a fact."}],
        max_tokens=16,
        temperature=1,
        extra_headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    first, _ = chat_raw(c, **request)
    second, _ = chat_raw(c, **request)
    assert second.id == first.id
    assert second.choices[0].message.content == first.choices[0].message.content

    row = None
    deadline = time.monotonic() + 5
    while row is None:
        response = admin.get("/admin/usage", params={"group_by": "key"})
        assert response.status_code == 200, response.text[:500]
        row = next((r for r in usage_rows(response.json()) if r.get("group") == key.id), None)
        if row is None:
            assert time.monotonic() < deadline, f"GET /admin/usage?group_by=key has no row for key {key.id}: {response.text[:1000]}"
            time.sleep(0.2)
    assert row["requests"] == 1, row
    # Any fee column in CNX (fees_cnx, spent_cnx, …) counts one request's fee: 5 CNX on the embedded network.
    for field, value in row.items():
        if re.search(r"fee|cost|spent", field) and "cnx" in field and isinstance(value, (int, float, str)):
            assert float(value) == pytest.approx(5), f"{field} should count one request's fee (5 CNX): {row}"


# --- other endpoints -------------------------------------------------------------------------------------------


def test_completions(client, model):
    raw = client.completions.with_raw_response.create(model=model, prompt="Once upon a time", max_tokens=8)
    body = json.loads(raw.text)
    validate("CreateCompletionResponse", body)
    assert body["object"] == "text_completion"
    completion = raw.parse()
    assert isinstance(completion.choices[0].text, str)
    assert completion.choices[0].finish_reason in ("stop", "length")
    check_usage(completion.usage)


def test_completions_stream(api, client, model):
    request = {"model": model, "prompt": "Once upon a time", "max_tokens": 8, "temperature": 0, "stream": True, "stream_options": {"include_usage": True}}
    with api.stream("POST", "/v1/completions", json=request) as response:
        assert response.status_code == 200, response.read().decode(errors="replace")[:500]
        assert response.headers.get("content-type", "").startswith("text/event-stream")
        events = sse_events(response)
    assert events and events[-1] == "[DONE]" and events.count("[DONE]") == 1, events[-3:]
    chunks = [json.loads(e) for e in events[:-1]]
    for chunk in chunks:
        validate("CreateCompletionStreamResponse", chunk)
        assert chunk["object"] == "text_completion"
    assert len({c["id"] for c in chunks}) == 1
    usage = chunks[-1]
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] <= 8
    finishing = [c for c in chunks[:-1] if c["choices"][0]["finish_reason"] is not None]
    assert len(finishing) == 1 and finishing[0] is chunks[-2]
    text = "".join(c["choices"][0]["text"] for c in chunks[:-1])
    whole = client.completions.create(model=model, prompt="Once upon a time", max_tokens=8, temperature=0)
    assert text == whole.choices[0].text and text.strip()
    # The openai package's stream gives the same text.
    streamed = "".join(c.choices[0].text for c in client.completions.create(model=model, prompt="Once upon a time", max_tokens=8, temperature=0, stream=True) if c.choices)
    assert streamed == text


def test_admin_balance(admin, http, api):
    response = admin.get("/admin/balance")
    assert response.status_code == 200, response.text[:500]
    float(response.json()["balance_cnx"])
    anonymous = http.get("/admin/balance")
    assert anonymous.status_code == 401, anonymous.text[:500]
    validate("ErrorResponse", anonymous.json())
    # An API key is not an admin token.
    assert api.get("/admin/balance").status_code in (401, 403)


def test_health_metrics_openapi(http, admin, client, model):
    assert http.get("/health").status_code == 200
    client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hi"}], max_tokens=1, temperature=0)
    metrics = admin.get("/metrics")
    assert metrics.status_code == 200, metrics.text[:500]
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    # Parsed by Prometheus's own Python client: valid exposition text with the Bridge's metric families.
    families = {f.name: f for f in text_string_to_metric_families(metrics.text)}
    for name, kind in [
        ("crynux_bridge_requests", "counter"), ("crynux_bridge_request_duration_seconds", "histogram"),
        ("crynux_bridge_time_to_first_byte_seconds", "histogram"), ("crynux_bridge_balance_cnx", "gauge"),
        ("crynux_bridge_balance_floor_cnx", "gauge"), ("crynux_bridge_runs", "gauge"),
    ]:
        assert name in families and families[name].type == kind, (name, sorted(families))
    assert any(s.labels.get("route") == "/v1/chat/completions" for s in families["crynux_bridge_requests"].samples)
    # The embedded relay exposes its own: queue length, tasks by state, dispatch and request latency.
    relay = httpx2.get(env("CRYNUX_RELAY_URL") + "/metrics", timeout=30)
    assert relay.status_code == 200
    relay_families = {f.name: f for f in text_string_to_metric_families(relay.text)}
    for name, kind in [
        ("crynux_relay_queue_length", "gauge"), ("crynux_relay_tasks", "gauge"), ("crynux_relay_nodes", "gauge"),
        ("crynux_relay_dispatch_latency_seconds", "histogram"), ("crynux_relay_request_duration_seconds", "histogram"),
        ("crynux_relay_requests", "counter"),
    ]:
        assert name in relay_families and relay_families[name].type == kind, (name, sorted(relay_families))
    done = [s for s in relay_families["crynux_relay_tasks"].samples if s.labels.get("state") == "endSuccess"]
    assert done and done[0].value >= 1, "the chats of this suite ended in endSuccess"
    spec = http.get("/openapi.json")
    assert spec.status_code == 200
    assert str(spec.json()["openapi"]).startswith("3.")
    # A valid OpenAPI 3.1 document (openapi-spec-validator), describing every API route the Bridge serves.
    from openapi_spec_validator import validate as validate_spec

    validate_spec(spec.json())
    for path in ["/v1/chat/completions", "/v1/llm/{vram_limit}/chat/completions", "/v1/completions", "/v1/llm/{vram_limit}/completions",
                 "/v1/responses", "/v1/responses/{id}", "/v1/responses/{id}/cancel", "/v1/messages", "/v1/messages/count_tokens"]:
        assert path in spec.json()["paths"], f"openapi.json does not describe {path}"


def test_malformed_and_oversized_bodies(api, http):
    headers = {"Content-Type": "application/json"}
    malformed = api.post("/v1/chat/completions", content=b"{not json", headers=headers)
    assert malformed.status_code == 400, malformed.text[:500]
    body = malformed.json()
    validate("ErrorResponse", body)
    assert body["error"]["param"] == "body", body
    assert malformed.headers.get("x-request-id")

    oversized = b'{"model": "' + b"x" * (5 << 20) + b'", "messages": []}'
    response = api.post("/v1/chat/completions", content=oversized, headers=headers)
    assert response.status_code == 413, response.text[:500]
    validate("ErrorResponse", response.json())

    assert http.get("/health").status_code == 200

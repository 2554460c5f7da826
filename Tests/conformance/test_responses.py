"""OpenAI's Responses API on the Bridge through the official `openai` package: whole and streamed answers, a function
tool round trip, `previous_response_id`, background runs, cancel and delete; every body and event checked against
openai-schemas.json and against the `openai` package's own types."""

import json
import time

import openai
import pytest
from openai.types.responses import Response, ResponseStreamEvent

from conftest import official, typed_events, validate

QUESTION = "What is 2+2?"
# The 135M model follows a few-shot pattern under greedy decoding, so tool calls come from a real model answer.
FEW_SHOT = [
    {"role": "system", "content": "You call tools. Reply only with a tool call."},
    {"role": "user", "content": "What is the weather in Berlin?"},
    {"role": "assistant", "content": '<tool_call>{"name": "get_weather", "arguments": {"city": "Berlin"}}</tool_call>'},
    {"role": "user", "content": "What is the weather in Rome?"},
    {"role": "assistant", "content": '<tool_call>{"name": "get_weather", "arguments": {"city": "Rome"}}</tool_call>'},
    {"role": "user", "content": "What is the weather in Paris?"},
]
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def checked(raw) -> dict:
    """The raw body of a `with_raw_response` call, checked against both schemas."""
    body = json.loads(raw.text)
    validate("Response", body)
    official(Response, body)
    return body


def test_responses_create(client, model):
    raw = client.responses.with_raw_response.create(model=model, input=QUESTION, max_output_tokens=64, temperature=0)
    body = checked(raw)
    response = raw.parse()
    assert body["object"] == "response" and body["status"] == "completed", body
    assert response.output_text.strip(), body
    assert body["output"][0]["type"] == "message" and body["output"][0]["role"] == "assistant"
    usage = body["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] and usage["output_tokens"] <= 64
    assert "system_fingerprint" not in body
    # The same greedy question through chat completions gives the same text: one model, one engine.
    chat = client.chat.completions.create(model=model, messages=[{"role": "user", "content": QUESTION}], max_tokens=64, temperature=0)
    assert response.output_text == chat.choices[0].message.content
    # Stored by default: a GET gives the same object.
    again = client.responses.retrieve(response.id)
    assert again.model_dump() == response.model_dump()


def test_responses_instructions_and_items(client, model):
    with_instructions = client.responses.create(
        model=model, instructions="Answer in French.", input=[{"role": "user", "content": [{"type": "input_text", "text": QUESTION}]}],
        max_output_tokens=8, temperature=0,
    )
    assert with_instructions.instructions == "Answer in French."
    # instructions are the system message: the same prompt and answer as chat with that system message.
    chat = client.chat.completions.create(
        model=model, messages=[{"role": "system", "content": "Answer in French."}, {"role": "user", "content": QUESTION}], max_tokens=8, temperature=0
    )
    assert with_instructions.usage.input_tokens == chat.usage.prompt_tokens, "the instructions did not reach the prompt as a system message"
    assert with_instructions.output_text == chat.choices[0].message.content


def test_responses_incomplete_at_max_output_tokens(client, model):
    response = client.responses.create(model=model, input="Write a long story about a dragon.", max_output_tokens=3)
    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.usage.output_tokens <= 3


def test_responses_stream(api, client, model):
    request = {"model": model, "input": QUESTION, "max_output_tokens": 64, "temperature": 0, "stream": True}
    events = typed_events(api, "/v1/responses", request, "ResponseStreamEvent", ResponseStreamEvent)
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"], kinds
    assert kinds[-1] == "response.completed", kinds
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    for expected in ["response.output_item.added", "response.content_part.added", "response.output_text.delta", "response.output_text.done",
                     "response.content_part.done", "response.output_item.done"]:
        assert expected in kinds, f"no {expected}: {kinds}"
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert kinds.count("response.output_text.delta") > 1, "the text came in one piece, not as the node wrote it"
    final = events[-1]["response"]
    assert final["output"][0]["content"][0]["text"] == text
    # The same request through the openai package's stream helper, and the same text as a whole answer.
    with client.responses.stream(model=model, input=QUESTION, max_output_tokens=64, temperature=0) as stream:
        streamed = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        done = stream.get_final_response()
    assert streamed == text == done.output_text


def test_responses_function_tool_round_trip(client, model):
    first = client.responses.create(model=model, input=FEW_SHOT, tools=[WEATHER], temperature=0, max_output_tokens=64)
    calls = [item for item in first.output if item.type == "function_call"]
    assert calls, first.model_dump_json()
    call = calls[0]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}
    assert call.call_id
    # The tool's answer goes back with previous_response_id: the Bridge carries the conversation and the call.
    second = client.responses.create(
        model=model, previous_response_id=first.id, tools=[WEATHER], temperature=0, max_output_tokens=16,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": '{"temperature_c": 18}'}],
    )
    assert second.previous_response_id == first.id
    assert second.status in ("completed", "incomplete")
    assert second.usage.input_tokens > first.usage.input_tokens, "the earlier turn was not carried"
    # The same round trip with every item sent explicitly counts the same prompt.
    explicit = client.responses.create(
        model=model, tools=[WEATHER], temperature=0, max_output_tokens=16,
        input=FEW_SHOT + [
            {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
            {"type": "function_call_output", "call_id": call.call_id, "output": '{"temperature_c": 18}'},
        ],
    )
    assert explicit.usage.input_tokens == second.usage.input_tokens
    assert explicit.output_text == second.output_text


def test_responses_previous_response_id(client, model):
    first = client.responses.create(model=model, input="My name is Ada.", max_output_tokens=8, temperature=0)
    second = client.responses.create(model=model, input="What is my name?", previous_response_id=first.id, max_output_tokens=8, temperature=0)
    alone = client.responses.create(model=model, input="What is my name?", max_output_tokens=8, temperature=0)
    assert second.usage.input_tokens > alone.usage.input_tokens + first.usage.output_tokens
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model=model, input="x", previous_response_id="resp_unknown", max_output_tokens=8)
    assert info.value.param == "previous_response_id"


def test_responses_background(client, model):
    created = client.responses.create(model=model, input=QUESTION, max_output_tokens=64, temperature=0, background=True)
    assert created.status in ("queued", "in_progress"), created.status
    assert created.background is True and created.output == []
    deadline = time.monotonic() + 120
    response = created
    while response.status in ("queued", "in_progress"):
        assert time.monotonic() < deadline, "the background response did not finish in 120 s"
        time.sleep(0.2)
        raw = client.responses.with_raw_response.retrieve(created.id)
        checked(raw)
        response = raw.parse()
    assert response.status == "completed", response.model_dump_json()
    whole = client.responses.create(model=model, input=QUESTION, max_output_tokens=64, temperature=0)
    assert response.output_text == whole.output_text


def test_responses_cancel_queued_background(client, model):
    # One node runs one task at a time: a long answer keeps it busy while the next waits in the relay's queue.
    busy = client.responses.create(model=model, input="Write a long story about a dragon.", max_output_tokens=200, temperature=0, background=True)
    queued = None
    for _ in range(50):
        queued = client.responses.create(model=model, input=QUESTION, max_output_tokens=16, background=True)
        try:
            if client.responses.cancel(queued.id).status == "cancelled":
                break
        except openai.ConflictError as error:
            # It reached the node first (the busy one had already finished): a running task cannot be recalled.
            assert error.code == "response_already_running"
        time.sleep(0.1)
    else:
        pytest.fail("no background response could be cancelled while queued")
    assert client.responses.retrieve(queued.id).status == "cancelled"
    # A whole answer's response cannot be cancelled; the busy one still completes.
    deadline = time.monotonic() + 120
    while client.responses.retrieve(busy.id).status in ("queued", "in_progress"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert client.responses.retrieve(busy.id).status in ("completed", "incomplete")


def test_responses_delete_and_ownership(client, new_key, make_client, model):
    response = client.responses.create(model=model, input=QUESTION, max_output_tokens=8)
    other = make_client(new_key())
    with pytest.raises(openai.NotFoundError):
        other.responses.retrieve(response.id)
    with pytest.raises(openai.NotFoundError):
        other.responses.delete(response.id)
    raw = client.responses.with_raw_response.delete(response.id)
    body = json.loads(raw.text)
    validate("ResponseDeleted", body)
    assert body["id"] == response.id
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    # store: false keeps nothing.
    unstored = client.responses.create(model=model, input=QUESTION, max_output_tokens=8, store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(unstored.id)


def test_responses_json_schema(client, model):
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(
            model=model, input=QUESTION, max_output_tokens=8,
            text={"format": {"type": "json_schema", "name": "a", "schema": {"type": "object", "$ref": "#"}}},
        )
    assert info.value.param == "text.format"
    # A valid format is accepted; the small model's answer is checked against it after the run.
    try:
        client.responses.create(
            model=model, input="Reply in JSON with an answer field: " + QUESTION, max_output_tokens=32, temperature=0,
            text={"format": {"type": "json_schema", "name": "answer", "schema": schema}},
        )
    except openai.InternalServerError as error:
        assert error.code == "invalid_json_output", error


@pytest.mark.parametrize(
    "extra, param",
    [
        ({"unknown_field": 1}, "unknown_field"),
        ({"tools": [{"type": "web_search"}]}, "tools"),
        ({"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "data:,"}]}]}, "input[0].content[0]"),
        ({"reasoning": {"effort": "high"}}, "reasoning"),
        ({"background": True, "store": False}, "background"),
        ({"vram_limit": "big"}, "vram_limit"),
    ],
)
def test_responses_unsupported_fields_are_400(api, model, extra, param):
    request = {"model": model, "input": QUESTION, "max_output_tokens": 8, **extra}
    response = api.post("/v1/responses", json=request)
    assert response.status_code == 400, response.text[:500]
    validate("ErrorResponse", response.json())
    assert response.json()["error"]["param"] == param, response.text

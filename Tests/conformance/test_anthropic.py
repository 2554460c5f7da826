"""Anthropic's Messages API on the Bridge through the official `anthropic` package: whole and streamed answers, tool
use, token counting, and errors mapped to the package's exception classes; every body and event checked against
openai-schemas.json's Anthropic definitions and against the `anthropic` package's own types."""

import json

import anthropic
import pytest
from anthropic.types import Message, MessageTokensCount, RawMessageStreamEvent

from conftest import TIMEOUT, env, official, typed_events, validate

QUESTION = [{"role": "user", "content": "What is 2+2?"}]
GREEDY = {"temperature": 0}  # the anthropic package no longer has a temperature argument; the API still takes it
WEATHER = {
    "name": "get_weather",
    "description": "The current weather in a city.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
FEW_SHOT = [
    {"role": "user", "content": "What is the weather in Berlin?"},
    {"role": "assistant", "content": '<tool_call>{"name": "get_weather", "arguments": {"city": "Berlin"}}</tool_call>'},
    {"role": "user", "content": "What is the weather in Rome?"},
    {"role": "assistant", "content": '<tool_call>{"name": "get_weather", "arguments": {"city": "Rome"}}</tool_call>'},
    {"role": "user", "content": "What is the weather in Paris?"},
]
SYSTEM = "You call tools. Reply only with a tool call."


def root_url() -> str:
    return env("CRYNUX_ROOT_URL")


@pytest.fixture(scope="module")
def claude():
    c = anthropic.Anthropic(base_url=root_url(), api_key=env("CRYNUX_API_KEY"), max_retries=0, timeout=TIMEOUT)
    yield c
    c.close()


def checked(raw) -> dict:
    body = json.loads(raw.http_response.text)
    validate("AnthropicMessage", body)
    official(Message, body)
    return body


def test_messages_create(claude, client, model):
    raw = claude.messages.with_raw_response.create(model=model, max_tokens=64, messages=QUESTION, extra_body=GREEDY)
    body = checked(raw)
    message = raw.parse()
    assert message.type == "message" and message.role == "assistant"
    assert message.content and message.content[0].type == "text" and message.content[0].text.strip()
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0 and 0 < message.usage.output_tokens <= 64
    assert raw.headers.get("request-id")
    # The same greedy question through chat completions gives the same text.
    chat = client.chat.completions.create(model=model, messages=QUESTION, max_tokens=64, temperature=0)
    assert message.content[0].text == chat.choices[0].message.content
    assert body["usage"]["input_tokens"] == chat.usage.prompt_tokens


def test_messages_system_and_bearer_auth(client, model):
    # Bearer authentication works as x-api-key does.
    c = anthropic.Anthropic(base_url=root_url(), auth_token=env("CRYNUX_API_KEY"), api_key=None, max_retries=0, timeout=TIMEOUT)
    with_system = c.messages.create(model=model, max_tokens=8, messages=QUESTION, system=[{"type": "text", "text": "Answer in French."}], extra_body=GREEDY)
    c.close()
    # system is the system message: the same prompt and answer as chat with it.
    chat = client.chat.completions.create(
        model=model, messages=[{"role": "system", "content": "Answer in French."}] + QUESTION, max_tokens=8, temperature=0
    )
    assert with_system.usage.input_tokens == chat.usage.prompt_tokens
    assert with_system.content[0].text == chat.choices[0].message.content


def test_messages_max_tokens_and_stop_sequences(claude, model):
    story = [{"role": "user", "content": "Write a long story about a dragon."}]
    cut = claude.messages.create(model=model, max_tokens=3, messages=story)
    assert cut.stop_reason == "max_tokens" and cut.usage.output_tokens <= 3
    full = claude.messages.create(model=model, max_tokens=32, messages=story, extra_body=GREEDY)
    words = full.content[0].text.split()
    assert len(words) > 3, full
    word = words[len(words) // 2]
    stopped = claude.messages.create(model=model, max_tokens=32, messages=story, stop_sequences=[word], extra_body=GREEDY)
    assert stopped.stop_reason == "stop_sequence" and stopped.stop_sequence == word
    assert word not in stopped.content[0].text


def test_messages_stream(claude, api, model):
    request = {"model": model, "max_tokens": 64, "messages": QUESTION, "stream": True, **GREEDY}
    events = typed_events(api, "/v1/messages", request, "AnthropicStreamEvent", RawMessageStreamEvent, unchecked=("ping",))
    kinds = [e["type"] for e in events if e["type"] != "ping"]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"], kinds
    # One text block: its start, its text as the node writes it (several deltas for this answer), its stop.
    assert kinds[1] == "content_block_start" and kinds[-3] == "content_block_stop", kinds
    assert set(kinds[2:-3]) == {"content_block_delta"} and len(kinds[2:-3]) > 1, kinds
    text = "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")
    delta = next(e for e in events if e["type"] == "message_delta")
    assert delta["delta"]["stop_reason"] == "end_turn" and delta["usage"]["output_tokens"] > 0
    # The anthropic package's stream helper gives the same text and final message.
    with claude.messages.stream(model=model, max_tokens=64, messages=QUESTION, extra_body=GREEDY) as stream:
        streamed = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert streamed == text == final.content[0].text
    assert final.stop_reason == "end_turn"


def test_messages_tool_use_round_trip(claude, model):
    raw = claude.messages.with_raw_response.create(model=model, max_tokens=64, system=SYSTEM, messages=FEW_SHOT, tools=[WEATHER], extra_body=GREEDY)
    checked(raw)
    message = raw.parse()
    assert message.stop_reason == "tool_use", message
    uses = [b for b in message.content if b.type == "tool_use"]
    assert uses and uses[0].name == "get_weather" and uses[0].input == {"city": "Paris"}
    assert uses[0].id
    follow_up = FEW_SHOT + [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in message.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": uses[0].id, "content": '{"temperature_c": 18}'}]},
    ]
    answer = claude.messages.create(model=model, max_tokens=16, system=SYSTEM, messages=follow_up, tools=[WEATHER], extra_body=GREEDY)
    assert answer.usage.input_tokens > message.usage.input_tokens
    # tool_choice {"type": "tool"} and {"type": "any"} map to a forced call; the few-shot answer satisfies both.
    forced = claude.messages.create(
        model=model, max_tokens=64, system=SYSTEM, messages=FEW_SHOT, tools=[WEATHER], tool_choice={"type": "tool", "name": "get_weather"},
        extra_body=GREEDY,
    )
    assert forced.stop_reason == "tool_use"


def test_messages_stream_tool_use(claude, model):
    with claude.messages.stream(model=model, max_tokens=64, system=SYSTEM, messages=FEW_SHOT, tools=[WEATHER], extra_body=GREEDY) as stream:
        final = stream.get_final_message()
    uses = [b for b in final.content if b.type == "tool_use"]
    assert uses and uses[0].input == {"city": "Paris"}, final
    assert final.stop_reason == "tool_use"


def test_count_tokens(claude, model):
    raw = claude.messages.with_raw_response.count_tokens(model=model, messages=QUESTION)
    body = json.loads(raw.http_response.text)
    validate("AnthropicTokenCount", body)
    official(MessageTokensCount, body)
    # The count is the prompt the network then reports for the same request.
    message = claude.messages.create(model=model, max_tokens=4, messages=QUESTION)
    assert body["input_tokens"] == message.usage.input_tokens
    with_tools = claude.messages.count_tokens(model=model, messages=FEW_SHOT, tools=[WEATHER], system=SYSTEM)
    used = claude.messages.create(model=model, max_tokens=4, messages=FEW_SHOT, tools=[WEATHER], system=SYSTEM)
    assert with_tools.input_tokens == used.usage.input_tokens > body["input_tokens"]


def error_body(error: anthropic.APIStatusError) -> dict:
    body = error.response.json()
    validate("AnthropicError", body)
    return body["error"]


def test_messages_errors(claude, new_key, model):
    wrong = anthropic.Anthropic(base_url=root_url(), api_key="sk-crynux-wrong", max_retries=0, timeout=TIMEOUT)
    with pytest.raises(anthropic.AuthenticationError) as info:
        wrong.messages.create(model=model, max_tokens=4, messages=QUESTION)
    assert error_body(info.value)["type"] == "authentication_error"
    wrong.close()
    with pytest.raises(anthropic.NotFoundError) as info:
        claude.messages.create(model="no/such-model", max_tokens=4, messages=QUESTION)
    assert error_body(info.value)["type"] == "not_found_error"
    with pytest.raises(anthropic.BadRequestError) as info:
        claude.messages.create(model=model, max_tokens=4, messages=[{"role": "system", "content": "x"}])
    assert error_body(info.value)["type"] == "invalid_request_error"
    with pytest.raises(anthropic.BadRequestError) as info:
        claude.messages.create(model=model, max_tokens=4, messages=QUESTION, extra_body={"unknown_field": 1})
    assert "unknown_field" in error_body(info.value)["message"]
    with pytest.raises(anthropic.BadRequestError):
        claude.messages.create(model=model, max_tokens=4, messages=[{"role": "user", "content": [{"type": "image", "source": {}}]}])
    # A key with a budget for one request: the second is a 429 rate_limit_error.
    broke = anthropic.Anthropic(base_url=root_url(), api_key=new_key(budget="15"), max_retries=0, timeout=TIMEOUT)
    broke.messages.create(model=model, max_tokens=4, messages=QUESTION)
    with pytest.raises(anthropic.RateLimitError) as info:
        broke.messages.create(model=model, max_tokens=4, messages=QUESTION)
    assert error_body(info.value)["type"] == "rate_limit_error"
    broke.close()

"""`langchain-crynux`'s `ChatCrynux` (the Crynux client LangChain users install, from PyPI) against the Bridge, as a
new user points it: invoke, stream, structured output, the Responses API and background mode. It always sends a
`vram_limit` (24 GB by default) in the body, which the Bridge maps to the task's VRAM floor."""

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_crynux import ChatCrynux
from pydantic import BaseModel, Field

from conftest import env

QUESTION = "What is 2+2?"


class Weather(BaseModel):
    """The current weather in a city."""

    city: str = Field(description="The city's name.")


def tool_call(city):
    return '<tool_call>{"name": "Weather", "arguments": {"city": "%s"}}</tool_call>' % city


# with_structured_output uses a forced function call: the 135M model makes one when shown the pattern.
FEW_SHOT = [
    SystemMessage("You call tools. Reply only with a tool call."),
    HumanMessage("What is the weather in Berlin?"),
    AIMessage(tool_call("Berlin")),
    HumanMessage("What is the weather in Rome?"),
    AIMessage(tool_call("Rome")),
    HumanMessage("What is the weather in Paris?"),
]


def crynux(model, **kwargs) -> ChatCrynux:
    return ChatCrynux(base_url=env("CRYNUX_BASE_URL"), api_key=env("CRYNUX_API_KEY"), model=model, temperature=0, max_retries=0, **kwargs)


def test_chatcrynux_invoke(client, model):
    answer = crynux(model, max_tokens=64).invoke(QUESTION)
    assert isinstance(answer.content, str) and answer.content.strip()
    chat = client.chat.completions.create(model=model, messages=[{"role": "user", "content": QUESTION}], max_tokens=64, temperature=0)
    assert answer.content == chat.choices[0].message.content


def test_chatcrynux_stream(model):
    llm = crynux(model, max_tokens=64)
    chunks = list(llm.stream(QUESTION))
    assert len(chunks) >= 1
    assert "".join(c.content for c in chunks) == llm.invoke(QUESTION).content


def test_chatcrynux_structured_output(model):
    result = crynux(model, max_tokens=64).with_structured_output(Weather).invoke(FEW_SHOT)
    assert result == Weather(city="Paris")


def test_chatcrynux_responses_api(model):
    llm = crynux(model, max_tokens=64, use_responses_api=True)
    answer = llm.invoke(QUESTION)
    assert answer.text.strip()
    assert answer.text == crynux(model, max_tokens=64).invoke(QUESTION).content


def test_chatcrynux_background(model):
    llm = crynux(model, max_tokens=64, background=True, poll_interval=0.2, timeout=120)
    answer = llm.invoke(QUESTION)
    assert answer.text == crynux(model, max_tokens=64).invoke(QUESTION).content


def test_chatcrynux_vram_limit_beyond_the_node(api, model):
    # The same body ChatCrynux sends, asking for more VRAM than the embedded node has: the task waits in the queue;
    # the field itself is accepted, and a value that is not an integer is a 400 naming it.
    response = api.post("/v1/chat/completions", json={"model": model, "messages": [{"role": "user", "content": "x"}], "vram_limit": 24.5})
    assert response.status_code == 400 and response.json()["error"]["param"] == "vram_limit", response.text
    response = api.post("/v1/llm/abc/chat/completions", json={"model": model, "messages": [{"role": "user", "content": "x"}]})
    assert response.status_code == 400 and response.json()["error"]["param"] == "vram_limit", response.text


@pytest.mark.parametrize("path", ["/v1/llm/24/chat/completions", "/v1/llm/chat/completions"])
def test_crynux_bridge_chat_paths(api, model, path):
    response = api.post(path, json={"model": model, "messages": [{"role": "user", "content": QUESTION}], "max_tokens": 8, "vram_limit": 16})
    assert response.status_code == 200, response.text
    assert response.json()["object"] == "chat.completion"


@pytest.mark.parametrize("path", ["/v1/llm/24/completions", "/v1/llm/completions"])
def test_crynux_bridge_completion_paths(api, model, path):
    response = api.post(path, json={"model": model, "prompt": QUESTION, "max_tokens": 8})
    assert response.status_code == 200, response.text
    assert response.json()["object"] == "text_completion"

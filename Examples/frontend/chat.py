"""A chatbot front end's calls to the Crynux Bridge with the official `openai` package: one whole answer, then the
same question streamed.

    pip install openai
    CRYNUX_BASE_URL=http://127.0.0.1:8080/v1 CRYNUX_API_KEY=sk-crynux-... python3 chat.py "What is 2+2?"
"""

import os
import sys

from openai import OpenAI

client = OpenAI(base_url=os.environ.get("CRYNUX_BASE_URL", "http://127.0.0.1:8080/v1"), api_key=os.environ["CRYNUX_API_KEY"])
model = os.environ.get("CRYNUX_MODEL", "HuggingFaceTB/SmolLM2-135M-Instruct")
question = sys.argv[1] if len(sys.argv) > 1 else "What is 2+2?"
messages = [{"role": "user", "content": question}]

answer = client.chat.completions.create(model=model, messages=messages, max_tokens=32, temperature=0)
print(answer.choices[0].message.content)

stream = client.chat.completions.create(model=model, messages=messages, max_tokens=32, temperature=0, stream=True)
for chunk in stream:
    if chunk.choices and chunk.choices[0].delta.content:
        print(chunk.choices[0].delta.content, end="", flush=True)
print()

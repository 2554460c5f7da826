"""The examples of Examples/ against the embedded network `crynux serve` runs for this suite: the SDK app, the Bridge
mounted in an operator's Hummingbird app (with the official openai client), and the Python front-end snippet."""

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2 as httpx
import openai

from conftest import TIMEOUT, env

ROOT = Path(__file__).resolve().parents[2]
MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"


def example(name: str) -> str:
    """The path of an example binary, built beside `crynux` by `swift build`."""
    path = Path(env("CRYNUX_BIN")).parent / name
    assert path.exists(), f"{path} is missing: swift build builds every example"
    return str(path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_sdk_app_runs_a_chat_task_with_progress_against_the_relay():
    run = subprocess.run(
        [example("sdk-chat"), "--relay", env("CRYNUX_RELAY_URL"), "--faucet", "50", "--max-tokens", "16", "What is 2+2?"],
        capture_output=True, text=True, timeout=TIMEOUT,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip(), "the answer is printed"
    progress = [line for line in run.stderr.splitlines() if line.startswith("progress: ")]
    assert progress and progress[0].startswith("progress: created") and progress[-1].startswith("progress: downloaded"), run.stderr


def test_the_bridge_mounted_in_an_operators_app_answers_openai_clients():
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        out, err = open(os.path.join(data, "out.log"), "w+"), open(os.path.join(data, "err.log"), "w+")
        app = subprocess.Popen(
            [example("mounted-bridge"), "--relay", env("CRYNUX_RELAY_URL"), "--data-dir", data, "--faucet", "100", "--port", str(port)],
            stdout=out, stderr=err,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.time() + 60
            while time.time() < deadline:
                assert app.poll() is None, "mounted-bridge exited: " + open(err.name).read()[-2000:]
                try:
                    if httpx.get(base + "/crynux/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            else:
                raise AssertionError("mounted-bridge did not answer /crynux/health")
            assert "operator's own page" in httpx.get(base + "/").text, "the app's own route sits beside the Bridge"
            key = open(os.path.join(data, "first-api-key")).read().strip()
            client = openai.OpenAI(base_url=base + "/crynux/v1", api_key=key, max_retries=0, timeout=TIMEOUT)
            assert [m.id for m in client.models.list().data] == [MODEL]
            answer = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "What is 2+2?"}], max_tokens=16, temperature=0)
            assert answer.choices[0].message.content
            page = httpx.get(base + "/crynux", follow_redirects=True)
            assert page.status_code == 200 and str(page.url).endswith("/crynux/"), "the chat page is served under the mount point"
            assert httpx.get(base + "/crynux/chat.js").headers["content-type"].startswith("text/javascript")
        finally:
            app.terminate()
            assert app.wait(30) == 0, "mounted-bridge stops cleanly on SIGTERM"


def test_the_python_front_end_snippet_answers_and_streams(client):
    messages = [{"role": "user", "content": "What is 2+2?"}]
    expected = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=32, temperature=0).choices[0].message.content
    run = subprocess.run(
        [sys.executable, str(ROOT / "Examples/frontend/chat.py"), "What is 2+2?"],
        env={**os.environ, "CRYNUX_BASE_URL": env("CRYNUX_BASE_URL"), "CRYNUX_API_KEY": env("CRYNUX_API_KEY")},
        capture_output=True, text=True, timeout=TIMEOUT,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert expected and run.stdout == expected + "\n" + expected + "\n", f"the whole answer, then the same answer streamed: {run.stdout!r}"

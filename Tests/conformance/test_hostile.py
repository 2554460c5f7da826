"""Hostile clients against the live `crynux serve`: its embedded relay and its Bridge (issue 13).

Requests are signed with `crynux tools sign` (the key in a 0600 file), so they are exactly what a stranger on the
network can send.
"""

import json
import os
import secrets
import subprocess
import tempfile

import httpx2 as httpx
import openai
import pytest

from conftest import env

RELAY = env("CRYNUX_RELAY_URL")


class Stranger:
    """A fresh key and the relay requests it signs."""

    def __init__(self):
        self.dir = tempfile.TemporaryDirectory()
        self.key_file = os.path.join(self.dir.name, "key")
        with open(os.open(self.key_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write("0x" + secrets.token_hex(32) + "\n")
        body = json.dumps({"x": 1})
        signature = self.sign(body, 1)
        self.address = self.cli("tools", "recover", "--timestamp", "1", "--signature", signature, stdin=body)

    def cli(self, *args, stdin=""):
        run = subprocess.run([env("CRYNUX_BIN"), *args], input=stdin, capture_output=True, text=True, timeout=30)
        assert run.returncode == 0, run.stderr
        return run.stdout.strip()

    def sign(self, body: str, timestamp: int) -> str:
        return self.cli("tools", "sign", "--key-file", self.key_file, "--timestamp", str(timestamp), stdin=body)

    def signed(self, fields: dict, timestamp: int) -> dict:
        return {**fields, "timestamp": timestamp, "signature": self.sign(json.dumps(fields), timestamp)}


def relay_now() -> int:
    return int(httpx.get(RELAY + "/v1/now").json()["data"]["now"])


def test_a_stranger_cannot_join_the_embedded_relay():
    s = Stranger()
    join = {
        "address": s.address, "gpu_name": "NVIDIA H100+Linux", "gpu_vram": 80, "model_ids": ["base:huggingfacetb/smollm2-135m-instruct"],
        "network": "", "staking": str(10**30), "version": "3.5.0",
    }
    r = httpx.post(f"{RELAY}/v2/node/{s.address}/join", json=s.signed(join, relay_now()))
    assert r.status_code == 403, r.text


def test_a_balance_query_signature_cannot_pause_and_a_signed_change_works_once():
    s = Stranger()
    now = relay_now()
    signed = s.signed({"address": s.address}, now)
    # The balance query (its signature travels in the URL) works, twice.
    for _ in range(2):
        r = httpx.get(f"{RELAY}/v2/relay_account/{s.address}/balance", params={"timestamp": now, "signature": signed["signature"]})
        assert r.status_code == 200, r.text
    # The same signature on a change is refused as used, not acted on.
    r = httpx.post(f"{RELAY}/v1/node/{s.address}/pause", json=signed)
    assert r.status_code == 400 and "already used" in r.text, r.text


def test_absurd_numbers_free_tasks_and_big_bodies_are_clear_errors():
    s = Stranger()
    r = httpx.post(RELAY + "/v1/dev/faucet", json={"address": s.address, "amount": str(10**20)})
    assert r.status_code == 200, r.text
    args = json.dumps({"model": "HuggingFaceTB/SmolLM2-135M-Instruct", "messages": [{"role": "user", "content": "hi"}]})

    def create(**overrides):
        commitment = "0x" + secrets.token_hex(32)
        fields = {
            "task_id_commitment": commitment, "task_args": args, "task_type": 1, "nonce": "0x" + secrets.token_hex(32),
            "task_model_ids": ["base:huggingfacetb/smollm2-135m-instruct"], "min_vram": 0, "required_gpu": "",
            "required_gpu_vram": 0, "task_version": "3.1.0", "task_size": 1, "task_fee": str(10**18),
        }
        fields.update(overrides)
        return httpx.post(f"{RELAY}/v1/inference_tasks/{commitment}", json=s.signed(fields, relay_now()))

    for overrides, field in [({"task_fee": "0"}, "task_fee"), ({"min_vram": 2**62}, "min_vram"), ({"task_size": 10**9}, "task_size")]:
        r = create(**overrides)
        assert r.status_code == 400 and r.json()["data"]["field_name"] == field, (overrides, r.text)
    # A score is a few bytes: 100 KB is refused before anything is parsed.
    r = httpx.post(RELAY + "/v1/inference_tasks/0x12/score", content=b" " * 100_000, headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    # The relay still serves.
    assert httpx.get(RELAY + "/v1/network").status_code == 200


def test_a_strangers_upload_is_refused_before_its_body_is_read():
    s = Stranger()
    commitment = "0x" + secrets.token_hex(32)
    signed = s.signed({"task_id_commitment": commitment}, relay_now())
    r = httpx.post(
        f"{RELAY}/v1/inference_tasks/{commitment}/results", params={"timestamp": signed["timestamp"], "signature": signed["signature"]},
        content=b"a" * (40 << 20), headers={"Content-Type": "multipart/form-data; boundary=x"}, timeout=60,
    )
    assert r.status_code in (403, 404), r.text


def test_a_schema_bomb_is_a_400_before_anything_is_paid(client, model):
    bomb = {"type": "json_schema", "json_schema": {"name": "bomb", "schema": {"oneOf": [{"$ref": "#"}, {"$ref": "#"}]}}}
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}], max_tokens=4, response_format=bomb)
    assert info.value.body["param"] == "response_format"
    catastrophic = {"type": "json_schema", "json_schema": {"name": "p", "schema": {"type": "string", "pattern": "(a)\\1"}}}
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}], max_tokens=4, response_format=catastrophic)

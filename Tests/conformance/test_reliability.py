"""Kill the Bridge with SIGKILL while it is paying for tasks (chat, Responses, Messages and a background response),
start it again, and check that every paid run is finished exactly once: no task lost, none paid twice, a client
retrying with the same Idempotency-Key gets the answer it paid for without paying again, and the background response
completes. Runs its own `crynux serve` (own data directory and ports)."""

import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid

import httpx2 as httpx
import pytest

MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Serve:
    def __init__(self, data, port, relay_port):
        self.data, self.port, self.relay_port = data, port, relay_port
        self.url = f"http://127.0.0.1:{port}"
        self.proc = None

    def start(self):
        out = open(os.path.join(self.data, "stdout.log"), "a")
        err = open(os.path.join(self.data, "stderr.log"), "a")
        self.proc = subprocess.Popen(
            [os.environ["CRYNUX_BIN"], "serve", "--data-dir", self.data, "--port", str(self.port), "--relay-port", str(self.relay_port)],
            stdout=out, stderr=err,
        )
        deadline = time.time() + 120
        while time.time() < deadline:
            assert self.proc.poll() is None, "crynux serve exited: " + open(os.path.join(self.data, "stderr.log")).read()[-2000:]
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("crynux serve did not answer /health")

    def secret(self, prefix):
        """The first API key or the admin token, from its 0600 file (stdout names only the file)."""
        name = {"First API key": "first-api-key", "Admin token": "admin-token"}[prefix]
        return open(os.path.join(self.data, name)).read().strip()

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def test_sigkill_mid_task_then_restart_reconciles_every_paid_run():
    with tempfile.TemporaryDirectory() as data:
        serve = Serve(data, free_port(), free_port())
        serve.start()
        try:
            key = serve.secret("First API key")
            admin = {"Authorization": "Bearer " + serve.secret("Admin token")}
            auth = {"Authorization": "Bearer " + key}

            def balance():
                return float(httpx.get(serve.url + "/admin/balance", headers=admin).json()["balance_cnx"])

            def runs(status):
                return httpx.get(serve.url + f"/admin/tasks?status={status}", headers=admin).json()["data"]

            start_balance = balance()
            idempotency = [str(uuid.uuid4()) for _ in range(5)]

            def poem(i):
                return f"Write a short poem about the number {i}."

            # The same kind of paid run through each API: chat, Responses, Messages, chat, and a background response.
            requests = [
                ("/v1/chat/completions", {"model": MODEL, "messages": [{"role": "user", "content": poem(0)}], "max_tokens": 48, "temperature": 0}),
                ("/v1/responses", {"model": MODEL, "input": poem(1), "max_output_tokens": 48, "temperature": 0}),
                ("/v1/messages", {"model": MODEL, "messages": [{"role": "user", "content": poem(2)}], "max_tokens": 48, "temperature": 0}),
                ("/v1/chat/completions", {"model": MODEL, "messages": [{"role": "user", "content": poem(3)}], "max_tokens": 48, "temperature": 0}),
                ("/v1/responses", {"model": MODEL, "input": poem(4), "max_output_tokens": 48, "temperature": 0, "background": True}),
            ]
            count = len(requests)

            def answer(path, body):
                if path == "/v1/chat/completions":
                    return body["choices"][0]["message"]["content"]
                if path == "/v1/responses":
                    return body["output"][0]["content"][0]["text"] if body["status"] in ("completed", "incomplete") else None
                return body["content"][0]["text"]

            def send(i):
                try:
                    httpx.post(serve.url + requests[i][0], json=requests[i][1], headers={**auth, "Idempotency-Key": idempotency[i]}, timeout=60)
                except httpx.HTTPError:
                    pass  # the process is killed under it

            threads = [threading.Thread(target=send, args=(i,)) for i in range(count - 1)]
            for t in threads:
                t.start()
            deadline = time.time() + 30
            while len(runs("pending")) < count - 1 and time.time() < deadline:
                time.sleep(0.02)
            # The background response answers at once, queued behind the others.
            background = httpx.post(serve.url + requests[4][0], json=requests[4][1], headers={**auth, "Idempotency-Key": idempotency[4]}, timeout=60)
            assert background.status_code == 200 and background.json()["status"] in ("queued", "in_progress"), background.text
            background_id = background.json()["id"]
            # Kill only once the relay holds money for the runs (a fee in escrow): the kill must cost something.
            while balance() == start_balance and time.time() < deadline:
                time.sleep(0.02)
            balance_at_kill = balance()
            pending_at_kill = len(runs("pending"))
            serve.kill()
            for t in threads:
                t.join()
            assert pending_at_kill >= 2, f"only {pending_at_kill} runs were in flight at the kill"
            assert balance_at_kill < start_balance, "no fee was paid on the relay before the kill"

            serve.start()
            deadline = time.time() + 180
            while runs("pending") and time.time() < deadline:
                time.sleep(0.2)
            assert not runs("pending"), "runs still pending three minutes after the restart"
            done = runs("done")
            assert len(runs("failed")) == 0
            assert len(done) >= pending_at_kill
            assert all(len(r["commitments"]) == 1 for r in done), done
            paid_before_retry = balance()
            assert paid_before_retry == pytest.approx(start_balance - 5 * len(done)), "each run paid exactly once"

            # The background response completed after the restart.
            retrieved = httpx.get(serve.url + f"/v1/responses/{background_id}", headers=auth, timeout=60)
            assert retrieved.status_code == 200 and answer("/v1/responses", retrieved.json()), retrieved.text
            # The clients retry with their Idempotency-Keys: answers for the recorded runs, no second payment.
            answers = []
            for i, (path, body) in enumerate(requests):
                r = httpx.post(serve.url + path, json=body, headers={**auth, "Idempotency-Key": idempotency[i]}, timeout=120)
                assert r.status_code == 200, r.text
                answers.append(answer(path, r.json()))
            assert all(answers), answers
            assert answers[4] == answer("/v1/responses", retrieved.json())
            assert len(runs("done")) == count, "one run per idempotency key"
            assert balance() == pytest.approx(start_balance - 5 * count), "the retries paid only for runs not recorded before the kill"
            usage = httpx.get(serve.url + "/admin/usage?group_by=key", headers=admin).json()["data"]
            assert sum(row["requests"] for row in usage) == count
            # The keys were charged exactly what the relay charged the wallet.
            assert sum(float(row["fees_cnx"]) for row in usage) == pytest.approx(start_balance - balance())
        finally:
            serve.stop()


def node_status(relay_data, address):
    """The node's status at a relay restarted over `relay_data` (its own process, public API only): 0 means quit."""
    port = free_port()
    relay = subprocess.Popen(
        [os.environ["CRYNUX_BIN"], "relay", "--data-dir", relay_data, "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/v1/node/{address}", timeout=1)
                if r.status_code == 200:
                    return r.json()["data"]["status"]
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("the restarted relay did not answer")
    finally:
        relay.terminate()
        relay.wait(10)


def test_sigterm_answers_the_paid_request_in_flight_quits_the_node_and_exits_0():
    with tempfile.TemporaryDirectory() as data:
        serve = Serve(data, free_port(), free_port())
        serve.start()
        try:
            auth = {"Authorization": "Bearer " + serve.secret("First API key")}
            admin = {"Authorization": "Bearer " + serve.secret("Admin token")}
            body = {"model": MODEL, "messages": [{"role": "user", "content": "Write a story about a cat."}], "max_tokens": 120, "temperature": 0}
            answer = {}

            def send():
                answer["response"] = httpx.post(serve.url + "/v1/chat/completions", json=body, headers=auth, timeout=120)

            sender = threading.Thread(target=send)
            sender.start()
            deadline = time.time() + 30
            while time.time() < deadline:
                if httpx.get(serve.url + "/admin/tasks?status=pending", headers=admin).json()["data"]:
                    break
                time.sleep(0.02)
            else:
                raise AssertionError("the paid run never showed as pending")
            serve.proc.send_signal(signal.SIGTERM)
            code = serve.proc.wait(90)
            sender.join(30)
            assert code == 0, "crynux serve exits 0 after SIGTERM: " + open(os.path.join(data, "stderr.log")).read()[-2000:]
            response = answer.get("response")
            assert response is not None and response.status_code == 200, response.text if response is not None else "no answer"
            assert response.json()["choices"][0]["message"]["content"], "the request in flight got its answer"
            node = subprocess.run(
                [os.environ["CRYNUX_BIN"], "wallet", "address", "--keystore", os.path.join(data, "node-wallet.json")],
                capture_output=True, text=True, check=True, env={k: v for k, v in os.environ.items() if k != "CRYNUX_WALLET_PASSWORD"},
            ).stdout.strip()
        finally:
            serve.stop()
        # Started again, the relay remembers the node as quit (status 0), and the paid run as settled once.
        assert node_status(os.path.join(data, "relay"), node) == 0, "the node quit the network before the relay stopped"
        serve.start()
        try:
            assert httpx.get(serve.url + "/admin/tasks?status=pending", headers=admin).json()["data"] == []
            assert len(httpx.get(serve.url + "/admin/tasks?status=done", headers=admin).json()["data"]) == 1
        finally:
            serve.stop()


def test_sigkill_of_a_relay_mid_writes_keeps_every_acknowledged_write():
    """`kill -9` of a running `crynux relay` while writes stream in: after a restart every write it acknowledged is
    there (a write in flight at the kill may or may not be), and the relay starts cleanly over its own file."""
    import secrets

    with tempfile.TemporaryDirectory() as data:
        key_file = os.path.join(data, "key")
        with open(os.open(key_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write("0x" + secrets.token_hex(32) + "\n")

        def cli(*args, stdin=""):
            run = subprocess.run([os.environ["CRYNUX_BIN"], *args], input=stdin, capture_output=True, text=True, timeout=30)
            assert run.returncode == 0, run.stderr
            return run.stdout.strip()

        address = cli("tools", "recover", "--timestamp", "1", "--signature", cli("tools", "sign", "--key-file", key_file, "--timestamp", "1", stdin="{}"), stdin="{}")
        port = free_port()
        relay_data = os.path.join(data, "relay")

        def start():
            proc = subprocess.Popen(
                [os.environ["CRYNUX_BIN"], "relay", "--dev", "--data-dir", relay_data, "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            deadline = time.time() + 30
            while time.time() < deadline:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/v1/now", timeout=1).status_code == 200:
                        return proc
                except httpx.HTTPError:
                    time.sleep(0.05)
            raise AssertionError("the relay did not start")

        relay = start()
        acknowledged = []
        stop = threading.Event()

        def deposit():
            with httpx.Client(timeout=5) as c:
                while not stop.is_set():
                    try:
                        r = c.post(f"http://127.0.0.1:{port}/v1/dev/faucet", json={"address": address, "amount": "1"})
                    except httpx.HTTPError:
                        return  # killed under it
                    if r.status_code == 200:
                        acknowledged.append(1)

        writer = threading.Thread(target=deposit)
        writer.start()
        while len(acknowledged) < 200:
            time.sleep(0.01)
        relay.send_signal(signal.SIGKILL)
        relay.wait()
        stop.set()
        writer.join()
        acked = len(acknowledged)

        relay = start()
        try:
            now = int(httpx.get(f"http://127.0.0.1:{port}/v1/now").json()["data"]["now"])
            signature = cli("tools", "sign", "--key-file", key_file, "--timestamp", str(now), stdin=json.dumps({"address": address}))
            r = httpx.get(f"http://127.0.0.1:{port}/v2/relay_account/{address}/balance", params={"timestamp": now, "signature": signature})
            assert r.status_code == 200, r.text
            balance = int(r.json()["data"])
            assert acked <= balance <= acked + 1, f"{acked} deposits acknowledged before the kill, {balance} wei after the restart"
        finally:
            relay.terminate()
            relay.wait(10)

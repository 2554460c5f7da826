#!/usr/bin/env python3
"""Runs the `crynux` binary against the golden vectors its commands can take: relay signing, commitments, VRF,
keystores, chat templates, and the task-args examples (`tools validate-task`). The vectors no command reads
(gpt-response, phash, jinja-features, the tokenizer and logits files) are checked by the Swift suites.

Usage: scripts/cli-vectors.py PATH/TO/crynux
Prints one line per failure and a closing 'N passed, N failed' line; exits 1 on any failure.
"""
import json
import os
import subprocess
import sys
import tempfile

binary = sys.argv[1]
fixtures = os.path.join(os.path.dirname(__file__), "..", "Tests", "CrynuxSDKTests", "Fixtures")
# Vectors more than one test target reads are kept once, in the TestSupport target.
shared_fixtures = os.path.join(os.path.dirname(__file__), "..", "Tests", "TestSupport", "Fixtures")
passed = failed = 0


def run(args, stdin=b"", env=None):
    p = subprocess.run([binary, *args], input=stdin, capture_output=True, env=env, timeout=300)
    return p.returncode, p.stdout.decode().rstrip("\n"), p.stderr.decode()


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def cases(name):
    path = os.path.join(fixtures, name + ".json")
    if not os.path.exists(path):
        path = os.path.join(shared_fixtures, name + ".json")
    with open(path, encoding="utf-8") as f:
        return json.load(f)["cases"]


KEYS = tempfile.TemporaryDirectory()


def key_file(hex_key):
    """A 0600 file holding `hex_key`: private keys never go on the command line."""
    path = os.path.join(KEYS.name, f"{len(os.listdir(KEYS.name))}.key")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(hex_key + "\n")
    return path


for c in cases("relay-signing"):
    # The input as written in the vector file (Python keeps key order and number text close enough:
    # floats are re-serialised with repr, which round-trips to the same float64 the relay sees).
    body = json.dumps(c["input"], ensure_ascii=False).encode()
    rc, out, err = run(["tools", "canonical-json"], body)
    check(f"canonical-json {c['name']}", rc == 0 and out == c["canonical"], out or err)
    rc, out, err = run(["tools", "sign", "--key-file", key_file(c["private_key"]), "--timestamp", str(c["timestamp"])], body)
    check(f"sign {c['name']}", rc == 0 and out == c["signature"], out or err)
    rc, out, err = run(["tools", "recover", "--timestamp", str(c["timestamp"]), "--signature", c["signature"]], body)
    check(f"recover {c['name']}", rc == 0 and out == c["address"], out or err)
    rc, out, err = run(["tools", "keccak"], c["message"].encode())
    check(f"keccak {c['name']}", rc == 0 and out == c["keccak"], out or err)

for c in cases("commitment"):
    rc, out, err = run(["tools", "commitment", "--task-id", c["task_id"], "--nonce", c["nonce"]])
    check(f"commitment {c['task_id'][:10]}", rc == 0 and out == c["task_id_commitment"], out or err)

for i, c in enumerate(cases("vrf")):
    # The key from stdin this time (`--key-file -`).
    rc, out, err = run(["tools", "vrf", "--key-file", "-", "--alpha", c["alpha"]], (c["sk"] + "\n").encode())
    want = {"pi": c["pi"], "beta": c["beta"], "needs_validation": c["needs_validation"]}
    check(f"vrf #{i}", rc == 0 and json.loads(out or "null") == want, out or err)
    rc, out, err = run(["tools", "vrf-verify", "--public-key", c["pk_uncompressed_64"], "--alpha", c["alpha"], "--pi", c["pi"]])
    check(f"vrf-verify #{i}", rc == 0 and json.loads(out or "null")["beta"] == c["beta"], out or err)

with tempfile.TemporaryDirectory() as tmp:
    for i, c in enumerate(cases("keystore")):
        path = os.path.join(tmp, f"ks{i}.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(c["keystore"], f)
        pw = os.path.join(tmp, f"pw{i}")
        with open(pw, "w", encoding="utf-8") as f:
            f.write(c["password"] + "\n")
        rc, out, err = run(["wallet", "address", "--keystore", path, "--password-file", pw])
        check(f"keystore #{i} ({c['kdf']})", rc == 0 and out == c["address"], out or err)
    with open(os.path.join(tmp, "wrong"), "w") as f:
        f.write("wrong password\n")
    rc, out, err = run(["wallet", "address", "--keystore", os.path.join(tmp, "ks0.json"), "--password-file", os.path.join(tmp, "wrong")])
    check("keystore wrong password", rc == 2 and "wrong password" in err and err.count("\n") == 1, err)
    env = dict(os.environ, CRYNUX_WALLET_PASSWORD="round trip")
    new = os.path.join(tmp, "new.json")
    rc, address, err = run(["wallet", "new", "--keystore", new, "--scrypt-n", "1024"], env=env)
    rc2, out, err2 = run(["wallet", "address", "--keystore", new], env=env)
    check("wallet new/address round trip", rc == 0 and rc2 == 0 and out == address and address.startswith("0x"), err + err2)
    key = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
    rc, out, err = run(["wallet", "import", "--keystore", os.path.join(tmp, "imp.json"), "--scrypt-n", "1024"], (key + "\n").encode(), env=env)
    check("wallet import", rc == 0 and out == "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23", out or err)

# Chat templates: every case of chat-templates/cases.json through `crynux template render`.
templates_dir = os.path.join(fixtures, "chat-templates")
with open(os.path.join(templates_dir, "cases.json"), encoding="utf-8") as f:
    template_cases = json.load(f)
with open(os.path.join(templates_dir, "conversations.json"), encoding="utf-8") as f:
    conversations = {c["id"]: c for c in json.load(f)["cases"]}
with tempfile.TemporaryDirectory() as tmp:
    for c in template_cases["cases"]:
        conv = conversations[c["conversation"]]
        path = os.path.join(tmp, "conversation.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"messages": conv["messages"], "tools": conv.get("tools"), "template_args": c["extra_kwargs"]}, f, ensure_ascii=False)
        args = ["template", "render", "--template", os.path.join(templates_dir, c["template"]), "--conversation", path,
                "--now", template_cases["fixed_now"]]
        if c["add_generation_prompt"]:
            args.append("--add-generation-prompt")
        if c["bos_token"] is not None:
            args += ["--bos-token", c["bos_token"]]
        if c["eos_token"] is not None:
            args += ["--eos-token", c["eos_token"]]
        p = subprocess.run([binary, *args], capture_output=True, timeout=60)
        out, err = p.stdout.decode(), p.stderr.decode()
        if "expected" in c:
            check(f"template {c['id']}", p.returncode == 0 and out == c["expected"], err[:200])
        else:
            ok = p.returncode == 1 and out == ""
            if c["error_type"] == "jinja2.exceptions.TemplateError":
                ok = ok and err == "error: " + c["error"] + "\n"
            check(f"template {c['id']} raises", ok, f"rc={p.returncode} {err[:200]!r}")

# Task-args examples from the Crynux repositories: `tools validate-task` accepts exactly the schema-valid ones.
examples_dir = os.path.join(fixtures, "task-examples")
with open(os.path.join(examples_dir, "index.json"), encoding="utf-8") as f:
    examples = json.load(f)["examples"]
kinds = {"gpt": "llm", "sd": "sd", "sd_finetune": "sd-finetune"}
checked = 0
for e in examples:
    if e["kind"] not in kinds:
        continue  # the one gpt_response example is a result, not task args
    with open(os.path.join(examples_dir, e["file"]), "rb") as f:
        rc, out, err = run(["tools", "validate-task", "--type", kinds[e["kind"]]], f.read())
    check(f"validate-task {e['file']}", (rc == 0) == e["schema_valid"] and rc in (0, 2), f"rc={rc} {err[:200]!r}")
    checked += 1
check("task examples present", checked == 97, f"{checked} examples")

# Bad input: exit code 2 and exactly one line on stderr.
bad = [
    (["tools", "canonical-json"], b'{"a":'),
    (["tools", "sign", "--key-file", key_file("0x" + "ab" * 31), "--timestamp", "1"], b"{}"),
    (["tools", "sign", "--key-file", key_file("0x" + "ab" * 32), "--timestamp", "1"], b"not json"),
    (["tools", "sign", "--key", "0x" + "ab" * 32, "--timestamp", "1"], b"{}"),
    (["tools", "sign", "--key-file", "/nonexistent/key", "--timestamp", "1"], b"{}"),
    (["tools", "recover", "--timestamp", "1", "--signature", "0x1234"], b"{}"),
    (["tools", "recover", "--timestamp", "1", "--signature", "0x" + "00" * 65], b"{}"),
    (["tools", "commitment", "--task-id", "0x11", "--nonce", "0x22"], b""),
    (["tools", "vrf", "--key-file", "-", "--alpha", "00"], ("0x" + "00" * 32).encode()),
    (["tools", "keccak", "--hex", "xyz"], b""),
    (["tools", "sign", "--timestamp", "1"], b"{}"),
    (["tools", "validate-task", "--type", "llm"], b'{"model":"","messages":[]}'),
]
for args, stdin in bad:
    rc, out, err = run(args, stdin)
    check(f"bad input {' '.join(args)}", rc == 2 and out == "" and err.count("\n") == 1 and err.startswith("error: "), f"rc={rc} {err!r}")

print(f"cli vectors: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)

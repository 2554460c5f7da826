/// The Bridge's static documents: the built-in chat page and the OpenAPI description.
enum StaticPages {
    /// The chat page served at `/`: self-contained (inline CSS and JavaScript, nothing fetched but the Bridge's own
    /// API), streaming answers over Server-Sent Events, model output set only as text.
    static let chatHTML: String = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Crynux Bridge</title>
    <style>
    :root {
      --bg: #f6f7f9; --panel: #ffffff; --text: #1d2330; --muted: #6b7280; --border: #d9dde4;
      --accent: #3b5bdb; --accent-text: #ffffff; --user: #e7edff; --assistant: #ffffff; --error: #c92a2a;
      color-scheme: light dark;
    }
    @media (prefers-color-scheme: dark) {
      :root {
        --bg: #15171c; --panel: #1e2128; --text: #e6e8ec; --muted: #9aa1ad; --border: #343945;
        --accent: #748ffc; --accent-text: #10131a; --user: #263152; --assistant: #1e2128; --error: #ff8787;
      }
    }
    * { box-sizing: border-box; }
    html, body { height: 100%; margin: 0; }
    body { background: var(--bg); color: var(--text); min-width: 30rem; display: flex; flex-direction: column;
      font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
    header, #settings, #composer { max-width: 60rem; width: 100%; margin: 0 auto; padding: 0.6rem 1rem; }
    header { display: flex; align-items: center; gap: 1rem; }
    h1 { font-size: 1.2rem; margin: 0; }
    #status { color: var(--muted); font-size: 0.9rem; margin-left: auto; text-align: right; }
    #status.error { color: var(--error); }
    #settings { display: grid; grid-template-columns: repeat(auto-fit, minmax(12rem, 1fr)); gap: 0.5rem 0.8rem; }
    label { display: flex; flex-direction: column; font-size: 0.8rem; color: var(--muted); gap: 0.2rem; }
    label.wide { grid-column: 1 / -1; }
    input, select, textarea, button { font: inherit; color: var(--text); }
    input, select, textarea { background: var(--panel); border: 1px solid var(--border); border-radius: 0.4rem; padding: 0.4rem 0.55rem; width: 100%; }
    input:focus, select:focus, textarea:focus { outline: 2px solid var(--accent); outline-offset: -1px; }
    button { border: 1px solid var(--border); background: var(--panel); border-radius: 0.4rem; padding: 0.45rem 0.9rem; cursor: pointer; white-space: nowrap; }
    button.primary { background: var(--accent); border-color: var(--accent); color: var(--accent-text); font-weight: 600; }
    button:disabled { opacity: 0.5; cursor: default; }
    #messages {
      flex: 1; overflow-y: auto; max-width: 60rem; width: 100%; margin: 0 auto; padding: 0.5rem 1rem;
      display: flex; flex-direction: column; gap: 0.6rem;
    }
    #messages:empty::before { content: "Choose a model and say something. Answers come from the Crynux Network."; color: var(--muted); margin: auto; text-align: center; }
    .msg {
      border: 1px solid var(--border); border-radius: 0.6rem; padding: 0.55rem 0.8rem; max-width: 85%;
      white-space: pre-wrap; overflow-wrap: anywhere;
    }
    .msg.user { background: var(--user); align-self: flex-end; }
    .msg.assistant { background: var(--assistant); align-self: flex-start; }
    .msg.assistant:empty::before { content: "…"; color: var(--muted); }
    .msg[data-error="true"] { border-color: var(--error); color: var(--error); }
    #composer { display: flex; gap: 0.5rem; align-items: flex-end; }
    #prompt { resize: vertical; min-height: 2.6rem; max-height: 40vh; }
    #composer .buttons { display: flex; gap: 0.4rem; }
    </style>
    </head>
    <body>
    <header>
      <h1>Crynux Bridge</h1>
      <div id="status" role="status" aria-live="polite">loading…</div>
      <button id="new-chat" type="button">New chat</button>
    </header>
    <section id="settings">
      <label>API key <input id="api-key" type="password" autocomplete="off" placeholder="sk-crynux-…"></label>
      <label>Model <select id="model"></select></label>
      <label>Temperature <input id="temperature" type="number" min="0" max="2" step="0.1" value="0.7"></label>
      <label>Max tokens <input id="max-tokens" type="number" min="1" step="1" value="256"></label>
      <label class="wide">System prompt (optional) <input id="system" type="text" placeholder="You are a helpful assistant."></label>
    </section>
    <main id="messages" aria-live="polite"></main>
    <section id="composer">
      <textarea id="prompt" rows="2" placeholder="Message (Enter sends, Shift+Enter for a new line)"></textarea>
      <div class="buttons">
        <button id="send" class="primary" type="button">Send</button>
        <button id="stop" type="button" hidden>Stop</button>
      </div>
    </section>
    <script>
    "use strict";
    const $ = (id) => document.getElementById(id);
    const keyInput = $("api-key"), modelSelect = $("model"), promptInput = $("prompt"), messagesDiv = $("messages");
    const statusDiv = $("status"), sendButton = $("send"), stopButton = $("stop");
    const KEY_STORE = "crynux-api-key";
    let conversation = [];
    let controller = null;
    let modelsRequest = 0;
    let chatGeneration = 0; // bumped by "new chat": a late answer must not touch the new conversation

    function setStatus(text, isError) { statusDiv.textContent = text; statusDiv.classList.toggle("error", Boolean(isError)); }

    function apiKey() { return keyInput.value.trim(); }

    function authHeaders(extra) {
      const headers = Object.assign({}, extra);
      if (apiKey()) headers.Authorization = "Bearer " + apiKey();
      return headers;
    }

    // The message of an OpenAI error envelope, or the HTTP status when the body is something else.
    async function errorMessage(response) {
      try {
        const body = await response.json();
        if (body && body.error && body.error.message) return body.error.message;
      } catch (e) { /* not JSON */ }
      return "HTTP " + response.status + " " + response.statusText;
    }

    async function loadModels() {
      const ticket = ++modelsRequest;
      const previous = modelSelect.value || localStorage.getItem("crynux-model") || "";
      if (!apiKey()) {
        modelSelect.replaceChildren();
        setStatus("enter an API key", true);
        return;
      }
      setStatus("loading models…");
      try {
        const response = await fetch("/v1/models", { headers: authHeaders() });
        if (ticket !== modelsRequest) return;
        if (!response.ok) {
          const message = await errorMessage(response);
          if (ticket !== modelsRequest) return;
          modelSelect.replaceChildren();
          setStatus(response.status === 401 ? "invalid API key: " + message : message, true);
          return;
        }
        const body = await response.json();
        if (ticket !== modelsRequest) return;
        const ids = (body.data || []).map((m) => m.id);
        modelSelect.replaceChildren(...ids.map((id) => Object.assign(document.createElement("option"), { value: id, textContent: id })));
        if (ids.includes(previous)) modelSelect.value = previous;
        if (!controller) setStatus(ids.length ? "ready" : "no models available", ids.length === 0);
      } catch (e) {
        if (ticket === modelsRequest) setStatus("could not load the models: " + e.message, true);
      }
    }

    function addMessage(role, text) {
      const div = Object.assign(document.createElement("div"), { className: "msg " + role, textContent: text });
      messagesDiv.append(div);
      scrollDown();
      return div;
    }

    function scrollDown() { messagesDiv.scrollTop = messagesDiv.scrollHeight; }

    function setBusy(busy) { sendButton.disabled = busy; stopButton.hidden = !busy; }

    function numberFrom(input, fallback, integer) {
      const value = integer ? parseInt(input.value, 10) : parseFloat(input.value);
      return Number.isFinite(value) ? value : fallback;
    }

    async function send() {
      if (controller) return;
      const text = promptInput.value.trim();
      if (!text) return;
      if (!modelSelect.value) { setStatus(apiKey() ? "no model selected" : "enter an API key", true); return; }
      promptInput.value = "";
      conversation.push({ role: "user", content: text });
      const userDiv = addMessage("user", text);
      const div = addMessage("assistant", "");
      const messages = [];
      const system = $("system").value.trim();
      if (system) messages.push({ role: "system", content: system });
      messages.push(...conversation);
      const request = {
        model: modelSelect.value, messages, stream: true, stream_options: { include_usage: true },
        temperature: numberFrom($("temperature"), 0.7, false), max_tokens: numberFrom($("max-tokens"), 256, true),
      };
      localStorage.setItem("crynux-model", modelSelect.value);
      const mine = new AbortController();
      const generation = chatGeneration;
      controller = mine;
      setBusy(true);
      setStatus("waiting for the network…");
      let content = "", usage = null, failure = null, stopped = false;
      try {
        const response = await fetch("/v1/chat/completions", {
          method: "POST", headers: authHeaders({ "Content-Type": "application/json" }),
          body: JSON.stringify(request), signal: mine.signal,
        });
        if (!response.ok) {
          failure = await errorMessage(response);
        } else {
          const reader = response.body.getReader();
          const decoder = new TextDecoder();
          let buffer = "", finished = false;
          const handle = (line) => {
            if (line.endsWith("\r")) line = line.slice(0, -1);
            if (!line.startsWith("data:")) return; // blank lines, ": keep-alive" comments, other fields
            const data = line.slice(5).replace(/^ /, "");
            if (data === "[DONE]") { finished = true; return; }
            let chunk;
            try { chunk = JSON.parse(data); } catch (e) { return; }
            if (chunk.error) { failure = chunk.error.message || "the network could not answer"; return; }
            for (const choice of chunk.choices || []) {
              if ((choice.index || 0) !== 0 || !choice.delta) continue;
              if (typeof choice.delta.content === "string" && choice.delta.content) {
                content += choice.delta.content;
                div.textContent = content;
                setStatus("streaming…");
                scrollDown();
              }
            }
            if (chunk.usage) usage = chunk.usage;
          };
          while (!finished) {
            const { value, done } = await reader.read();
            buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
            let newline;
            while (!finished && (newline = buffer.indexOf("\n")) >= 0) {
              const line = buffer.slice(0, newline);
              buffer = buffer.slice(newline + 1);
              handle(line);
            }
            if (done) { if (buffer) handle(buffer); break; }
          }
          if (finished) reader.cancel().catch(() => {});
        }
      } catch (e) {
        if (e.name === "AbortError") stopped = true;
        else failure = "request failed: " + e.message;
      }
      const current = generation === chatGeneration;
      if (failure) {
        div.textContent = content ? content + "\n\n" + failure : failure;
        div.setAttribute("data-error", "true");
        userDiv.setAttribute("data-error", "true");
        if (current) {
          setStatus(failure, true);
          conversation.pop(); // the failed turn is not sent again
        }
      } else if (current) {
        if (content) conversation.push({ role: "assistant", content });
        else conversation.pop();
        let summary = stopped ? "stopped" : "done";
        if (usage) summary += " · " + usage.prompt_tokens + " + " + usage.completion_tokens + " tokens";
        setStatus(summary);
      }
      div.setAttribute("data-done", "true");
      if (controller === mine) { controller = null; setBusy(false); }
      if (current) promptInput.focus();
    }

    function stop() { if (controller) controller.abort(); }

    function newChat() {
      chatGeneration++;
      stop();
      controller = null;
      setBusy(false);
      conversation = [];
      messagesDiv.replaceChildren();
      setStatus(modelSelect.value ? "ready" : (apiKey() ? "no model selected" : "enter an API key"), !modelSelect.value);
      promptInput.focus();
    }

    let keyTimer = null;
    function keyChanged() {
      localStorage.setItem(KEY_STORE, apiKey());
      clearTimeout(keyTimer);
      keyTimer = setTimeout(loadModels, 300);
    }

    keyInput.addEventListener("input", keyChanged);
    keyInput.addEventListener("change", () => { clearTimeout(keyTimer); localStorage.setItem(KEY_STORE, apiKey()); loadModels(); });
    modelSelect.addEventListener("change", () => localStorage.setItem("crynux-model", modelSelect.value));
    sendButton.addEventListener("click", send);
    stopButton.addEventListener("click", stop);
    $("new-chat").addEventListener("click", newChat);
    promptInput.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); send(); }
    });

    const params = new URLSearchParams(location.search);
    if (params.has("key")) {
      keyInput.value = params.get("key");
      localStorage.setItem(KEY_STORE, apiKey());
      params.delete("key"); // keep the key out of the address bar and history
      const query = params.toString();
      history.replaceState(null, "", location.pathname + (query ? "?" + query : "") + location.hash);
    } else {
      keyInput.value = localStorage.getItem(KEY_STORE) || "";
    }
    loadModels();
    </script>
    </body>
    </html>
    """#

    /// `/openapi.json`: the OpenAPI 3.1 description of the Bridge's API.
    static let openAPI: String = #"""
    {
      "openapi": "3.1.0",
      "info": {
        "title": "Crynux Bridge",
        "version": "0.1.0",
        "description": "An OpenAI-compatible API whose answers are computed on the Crynux Network. Every response carries an x-request-id header; errors use OpenAI's envelope {\"error\": {\"message\", \"type\", \"param\", \"code\"}}."
      },
      "servers": [{ "url": "/" }],
      "security": [{ "apiKey": [] }],
      "tags": [{ "name": "OpenAI" }, { "name": "Admin" }, { "name": "Service" }],
      "paths": {
        "/": {
          "get": {
            "tags": ["Service"], "operationId": "chatPage", "summary": "The built-in chat page", "security": [],
            "responses": { "200": { "description": "A self-contained HTML page", "content": { "text/html": { "schema": { "type": "string" } } } } }
          }
        },
        "/health": {
          "get": {
            "tags": ["Service"], "operationId": "health", "summary": "Liveness", "security": [],
            "responses": { "200": { "description": "The Bridge is up", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Health" } } } } }
          }
        },
        "/metrics": {
          "get": {
            "tags": ["Service"], "operationId": "metrics", "summary": "Prometheus metrics", "security": [],
            "responses": { "200": { "description": "Prometheus text exposition format 0.0.4", "content": { "text/plain": { "schema": { "type": "string" } } } } }
          }
        },
        "/openapi.json": {
          "get": {
            "tags": ["Service"], "operationId": "openAPI", "summary": "This document", "security": [],
            "responses": { "200": { "description": "The OpenAPI 3.1 description", "content": { "application/json": { "schema": { "type": "object" } } } } }
          }
        },
        "/v1/models": {
          "get": {
            "tags": ["OpenAI"], "operationId": "listModels", "summary": "The models offered",
            "responses": {
              "200": { "description": "The models", "headers": { "x-request-id": { "$ref": "#/components/headers/RequestID" } }, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ModelList" } } } },
              "401": { "$ref": "#/components/responses/Unauthorized" }
            }
          }
        },
        "/v1/models/{model}": {
          "get": {
            "tags": ["OpenAI"], "operationId": "retrieveModel", "summary": "One model",
            "parameters": [{ "name": "model", "in": "path", "required": true, "description": "A model id; Hugging Face ids contain a slash, which may be sent as is (/v1/models/Qwen/Qwen2.5-7B-Instruct) or as %2F.", "schema": { "type": "string" } }],
            "responses": {
              "200": { "description": "The model", "headers": { "x-request-id": { "$ref": "#/components/headers/RequestID" } }, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Model" } } } },
              "401": { "$ref": "#/components/responses/Unauthorized" },
              "404": { "$ref": "#/components/responses/NotFound" }
            }
          }
        },
        "/v1/chat/completions": {
          "post": {
            "tags": ["OpenAI"], "operationId": "createChatCompletion", "summary": "A chat completion, whole or streamed",
            "description": "Runs one paid LLM task on the network. With stream: true the headers and a role chunk come at once, `: keep-alive` comments follow while the network works, then the content chunks, a finish chunk, an optional usage chunk and `data: [DONE]`. A failure after the headers is sent as a data event holding an Error envelope.",
            "parameters": [{ "$ref": "#/components/parameters/IdempotencyKey" }],
            "requestBody": { "$ref": "#/components/requestBodies/ChatCompletion" },
            "responses": {
              "200": { "$ref": "#/components/responses/ChatCompletion" },
              "400": { "$ref": "#/components/responses/BadRequest" }, "401": { "$ref": "#/components/responses/Unauthorized" }, "404": { "$ref": "#/components/responses/NotFound" },
              "429": { "$ref": "#/components/responses/RateLimited" }, "500": { "$ref": "#/components/responses/ServerError" }, "503": { "$ref": "#/components/responses/Unavailable" }
            }
          }
        },
        "/v1/llm/chat/completions": {
          "post": {
            "tags": ["OpenAI"], "operationId": "createChatCompletionAlias", "summary": "Alias of POST /v1/chat/completions",
            "parameters": [{ "$ref": "#/components/parameters/IdempotencyKey" }],
            "requestBody": { "$ref": "#/components/requestBodies/ChatCompletion" },
            "responses": {
              "200": { "$ref": "#/components/responses/ChatCompletion" },
              "400": { "$ref": "#/components/responses/BadRequest" }, "401": { "$ref": "#/components/responses/Unauthorized" }, "404": { "$ref": "#/components/responses/NotFound" },
              "429": { "$ref": "#/components/responses/RateLimited" }, "500": { "$ref": "#/components/responses/ServerError" }, "503": { "$ref": "#/components/responses/Unavailable" }
            }
          }
        },
        "/v1/completions": {
          "post": {
            "tags": ["OpenAI"], "operationId": "createCompletion", "summary": "Legacy text completion (the prompt becomes one user message; no streaming)",
            "parameters": [{ "$ref": "#/components/parameters/IdempotencyKey" }],
            "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/CreateCompletionRequest" } } } },
            "responses": {
              "200": { "description": "The completion", "headers": { "x-request-id": { "$ref": "#/components/headers/RequestID" } }, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Completion" } } } },
              "400": { "$ref": "#/components/responses/BadRequest" }, "401": { "$ref": "#/components/responses/Unauthorized" }, "404": { "$ref": "#/components/responses/NotFound" },
              "429": { "$ref": "#/components/responses/RateLimited" }, "500": { "$ref": "#/components/responses/ServerError" }, "503": { "$ref": "#/components/responses/Unavailable" }
            }
          }
        },
        "/v1/images/generations": {
          "post": {
            "tags": ["OpenAI"], "operationId": "createImage", "summary": "Generate images (one paid SD task)",
            "parameters": [{ "$ref": "#/components/parameters/IdempotencyKey" }],
            "requestBody": { "$ref": "#/components/requestBodies/Image" },
            "responses": {
              "200": { "$ref": "#/components/responses/Images" },
              "400": { "$ref": "#/components/responses/BadRequest" }, "401": { "$ref": "#/components/responses/Unauthorized" }, "404": { "$ref": "#/components/responses/NotFound" },
              "429": { "$ref": "#/components/responses/RateLimited" }, "500": { "$ref": "#/components/responses/ServerError" }, "503": { "$ref": "#/components/responses/Unavailable" }
            }
          }
        },
        "/v1/images": {
          "post": {
            "tags": ["OpenAI"], "operationId": "createImageAlias", "summary": "Alias of POST /v1/images/generations",
            "parameters": [{ "$ref": "#/components/parameters/IdempotencyKey" }],
            "requestBody": { "$ref": "#/components/requestBodies/Image" },
            "responses": {
              "200": { "$ref": "#/components/responses/Images" },
              "400": { "$ref": "#/components/responses/BadRequest" }, "401": { "$ref": "#/components/responses/Unauthorized" }, "404": { "$ref": "#/components/responses/NotFound" },
              "429": { "$ref": "#/components/responses/RateLimited" }, "500": { "$ref": "#/components/responses/ServerError" }, "503": { "$ref": "#/components/responses/Unavailable" }
            }
          }
        },
        "/v1/embeddings": {
          "post": {
            "tags": ["OpenAI"], "operationId": "createEmbedding", "summary": "Not available",
            "description": "The Crynux Network has no embedding task type, so every request is answered 404 with code model_not_found and param model, as OpenAI answers for a model it does not have.",
            "requestBody": { "content": { "application/json": { "schema": { "type": "object", "properties": { "model": { "type": "string" }, "input": {} } } } } },
            "responses": { "401": { "$ref": "#/components/responses/Unauthorized" }, "404": { "$ref": "#/components/responses/NotFound" } }
          }
        },
        "/admin/keys": {
          "get": {
            "tags": ["Admin"], "operationId": "listKeys", "summary": "Every API key (secrets are never shown again)", "security": [{ "adminToken": [] }],
            "responses": {
              "200": { "description": "The keys", "content": { "application/json": { "schema": { "type": "object", "required": ["object", "data"], "properties": { "object": { "const": "list" }, "data": { "type": "array", "items": { "$ref": "#/components/schemas/APIKey" } } } } } } },
              "401": { "$ref": "#/components/responses/Unauthorized" }
            }
          },
          "post": {
            "tags": ["Admin"], "operationId": "createKey", "summary": "Create a key", "security": [{ "adminToken": [] }],
            "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/CreateKeyRequest" } } } },
            "responses": {
              "201": { "description": "The key, shown this once, and its record", "content": { "application/json": { "schema": { "type": "object", "required": ["key", "record"], "properties": { "key": { "type": "string", "examples": ["sk-crynux-…"] }, "record": { "$ref": "#/components/schemas/APIKey" } } } } } },
              "400": { "$ref": "#/components/responses/BadRequest" }, "401": { "$ref": "#/components/responses/Unauthorized" }
            }
          }
        },
        "/admin/keys/{id}": {
          "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
          "patch": {
            "tags": ["Admin"], "operationId": "updateKey", "summary": "Change a key's name or limits (null clears a limit; absent leaves it)", "security": [{ "adminToken": [] }],
            "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/UpdateKeyRequest" } } } },
            "responses": {
              "200": { "description": "The updated record", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/APIKey" } } } },
              "400": { "$ref": "#/components/responses/BadRequest" }, "401": { "$ref": "#/components/responses/Unauthorized" }, "404": { "$ref": "#/components/responses/NotFound" }
            }
          },
          "delete": {
            "tags": ["Admin"], "operationId": "revokeKey", "summary": "Revoke a key (its record and usage stay)", "security": [{ "adminToken": [] }],
            "responses": {
              "200": { "description": "The revoked record", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/APIKey" } } } },
              "401": { "$ref": "#/components/responses/Unauthorized" }, "404": { "$ref": "#/components/responses/NotFound" }
            }
          }
        },
        "/admin/usage": {
          "get": {
            "tags": ["Admin"], "operationId": "usage", "summary": "Usage and fees, grouped", "security": [{ "adminToken": [] }],
            "parameters": [
              { "name": "group_by", "in": "query", "schema": { "enum": ["key", "model", "day"], "default": "key" } },
              { "name": "since", "in": "query", "description": "Unix seconds, inclusive", "schema": { "type": "integer" } },
              { "name": "until", "in": "query", "description": "Unix seconds, exclusive", "schema": { "type": "integer" } }
            ],
            "responses": {
              "200": { "description": "One row per group", "content": { "application/json": { "schema": { "type": "object", "required": ["object", "data"], "properties": { "object": { "const": "list" }, "data": { "type": "array", "items": { "$ref": "#/components/schemas/UsageRow" } } } } } } },
              "400": { "$ref": "#/components/responses/BadRequest" }, "401": { "$ref": "#/components/responses/Unauthorized" }
            }
          }
        },
        "/admin/balance": {
          "get": {
            "tags": ["Admin"], "operationId": "balance", "summary": "The Bridge wallet's balance and floor", "security": [{ "adminToken": [] }],
            "responses": {
              "200": { "description": "The balance", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Balance" } } } },
              "401": { "$ref": "#/components/responses/Unauthorized" }
            }
          }
        },
        "/admin/tasks": {
          "get": {
            "tags": ["Admin"], "operationId": "listTasks", "summary": "Paid runs on the network", "security": [{ "adminToken": [] }],
            "parameters": [{ "name": "status", "in": "query", "schema": { "enum": ["pending", "done", "failed"] } }],
            "responses": {
              "200": { "description": "The runs, newest first", "content": { "application/json": { "schema": { "type": "object", "required": ["object", "data"], "properties": { "object": { "const": "list" }, "data": { "type": "array", "items": { "$ref": "#/components/schemas/PaidTask" } } } } } } },
              "400": { "$ref": "#/components/responses/BadRequest" }, "401": { "$ref": "#/components/responses/Unauthorized" }
            }
          }
        }
      },
      "components": {
        "securitySchemes": {
          "apiKey": { "type": "http", "scheme": "bearer", "description": "A Bridge API key (sk-crynux-…)" },
          "adminToken": { "type": "http", "scheme": "bearer", "description": "The Bridge's admin token" }
        },
        "headers": {
          "RequestID": { "description": "A unique id for this request", "schema": { "type": "string" } },
          "RetryAfter": { "description": "Seconds to wait before retrying", "schema": { "type": "integer" } },
          "LimitRequests": { "description": "Requests per minute allowed for this key", "schema": { "type": "integer" } },
          "RemainingRequests": { "description": "Requests left in the window", "schema": { "type": "integer" } },
          "ResetRequests": { "description": "Time until the request window resets, e.g. 12s", "schema": { "type": "string" } },
          "LimitTokens": { "description": "Tokens per minute allowed for this key", "schema": { "type": "integer" } },
          "RemainingTokens": { "description": "Tokens left in the window", "schema": { "type": "integer" } },
          "ResetTokens": { "description": "Time until the token window resets, e.g. 6s", "schema": { "type": "string" } }
        },
        "parameters": {
          "IdempotencyKey": {
            "name": "Idempotency-Key", "in": "header", "required": false,
            "description": "A repeat of a request with the same key (and the same API key) gets the first answer again instead of paying for a second run.",
            "schema": { "type": "string", "maxLength": 255 }
          }
        },
        "requestBodies": {
          "ChatCompletion": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/CreateChatCompletionRequest" } } } },
          "Image": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/CreateImageRequest" } } } }
        },
        "responses": {
          "ChatCompletion": {
            "description": "The completion: JSON, or Server-Sent Events of ChatCompletionChunk when stream is true",
            "headers": { "x-request-id": { "$ref": "#/components/headers/RequestID" } },
            "content": {
              "application/json": { "schema": { "$ref": "#/components/schemas/ChatCompletion" } },
              "text/event-stream": { "schema": { "type": "string", "description": "Server-Sent Events: data: <ChatCompletionChunk as JSON> per event, : keep-alive comments, then data: [DONE]" } }
            }
          },
          "Images": {
            "description": "The images",
            "headers": { "x-request-id": { "$ref": "#/components/headers/RequestID" } },
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ImagesResponse" } } }
          },
          "BadRequest": { "description": "The request is invalid; param names the field", "headers": { "x-request-id": { "$ref": "#/components/headers/RequestID" } }, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
          "Unauthorized": { "description": "Missing or wrong key (code invalid_api_key)", "headers": { "x-request-id": { "$ref": "#/components/headers/RequestID" } }, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
          "NotFound": { "description": "Unknown model (code model_not_found) or record", "headers": { "x-request-id": { "$ref": "#/components/headers/RequestID" } }, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
          "RateLimited": {
            "description": "Over the key's requests or tokens per minute (code rate_limit_exceeded) or its budget (code insufficient_quota)",
            "headers": {
              "x-request-id": { "$ref": "#/components/headers/RequestID" }, "Retry-After": { "$ref": "#/components/headers/RetryAfter" },
              "x-ratelimit-limit-requests": { "$ref": "#/components/headers/LimitRequests" }, "x-ratelimit-remaining-requests": { "$ref": "#/components/headers/RemainingRequests" },
              "x-ratelimit-reset-requests": { "$ref": "#/components/headers/ResetRequests" }, "x-ratelimit-limit-tokens": { "$ref": "#/components/headers/LimitTokens" },
              "x-ratelimit-remaining-tokens": { "$ref": "#/components/headers/RemainingTokens" }, "x-ratelimit-reset-tokens": { "$ref": "#/components/headers/ResetTokens" }
            },
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
          },
          "ServerError": { "description": "The network could not answer", "headers": { "x-request-id": { "$ref": "#/components/headers/RequestID" } }, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
          "Unavailable": { "description": "The Bridge wallet's balance is below its floor, so no paid work is accepted", "headers": { "x-request-id": { "$ref": "#/components/headers/RequestID" }, "Retry-After": { "$ref": "#/components/headers/RetryAfter" } }, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
        },
        "schemas": {
          "Error": {
            "type": "object", "required": ["error"],
            "properties": {
              "error": {
                "type": "object", "required": ["message", "type", "param", "code"],
                "properties": {
                  "message": { "type": "string" }, "type": { "type": "string", "examples": ["invalid_request_error", "server_error"] },
                  "param": { "type": ["string", "null"] }, "code": { "type": ["string", "null"] }
                }
              }
            }
          },
          "CNX": { "type": "string", "pattern": "^[0-9]+(\\.[0-9]{1,18})?$", "description": "An amount of CNX as a decimal string, e.g. \"12.5\"", "examples": ["5", "0.25"] },
          "Health": { "type": "object", "required": ["status"], "properties": { "status": { "const": "ok" } }, "additionalProperties": true },
          "Model": {
            "type": "object", "required": ["id", "object", "created", "owned_by"],
            "properties": { "id": { "type": "string", "examples": ["HuggingFaceTB/SmolLM2-135M-Instruct"] }, "object": { "const": "model" }, "created": { "type": "integer" }, "owned_by": { "type": "string" } }
          },
          "ModelList": { "type": "object", "required": ["object", "data"], "properties": { "object": { "const": "list" }, "data": { "type": "array", "items": { "$ref": "#/components/schemas/Model" } } } },
          "TextPart": { "type": "object", "required": ["type", "text"], "properties": { "type": { "const": "text" }, "text": { "type": "string" } } },
          "ToolCall": {
            "type": "object", "required": ["id", "type", "function"],
            "properties": {
              "id": { "type": "string" }, "type": { "const": "function" },
              "function": { "type": "object", "required": ["name", "arguments"], "properties": { "name": { "type": "string" }, "arguments": { "type": "string", "description": "JSON text" } } }
            }
          },
          "ChatMessage": {
            "type": "object", "required": ["role"],
            "properties": {
              "role": { "enum": ["system", "developer", "user", "assistant", "tool"], "description": "developer is treated as system" },
              "content": { "oneOf": [{ "type": "string" }, { "type": "array", "items": { "$ref": "#/components/schemas/TextPart" } }, { "type": "null" }] },
              "name": { "type": "string" },
              "tool_calls": { "type": "array", "items": { "$ref": "#/components/schemas/ToolCall" }, "description": "assistant messages only" },
              "tool_call_id": { "type": "string", "description": "tool messages only, required there" }
            }
          },
          "Tool": {
            "type": "object", "required": ["type", "function"],
            "properties": {
              "type": { "const": "function" },
              "function": { "type": "object", "required": ["name"], "properties": { "name": { "type": "string" }, "description": { "type": "string" }, "parameters": { "type": "object", "description": "A JSON Schema" }, "strict": { "type": "boolean" } } }
            }
          },
          "CreateChatCompletionRequest": {
            "type": "object", "required": ["model", "messages"],
            "properties": {
              "model": { "type": "string" },
              "messages": { "type": "array", "minItems": 1, "items": { "$ref": "#/components/schemas/ChatMessage" } },
              "max_tokens": { "type": ["integer", "null"], "minimum": 1 },
              "max_completion_tokens": { "type": ["integer", "null"], "minimum": 1, "description": "Wins over max_tokens" },
              "n": { "type": "integer", "minimum": 1, "maximum": 8, "default": 1 },
              "temperature": { "type": "number", "minimum": 0, "maximum": 2 },
              "top_p": { "type": "number", "exclusiveMinimum": 0, "maximum": 1 },
              "top_k": { "type": "integer", "minimum": 0, "description": "Extension" },
              "min_p": { "type": "number", "minimum": 0, "maximum": 1, "description": "Extension" },
              "repetition_penalty": { "type": "number", "exclusiveMinimum": 0, "description": "Extension" },
              "seed": { "type": "integer" },
              "stop": { "oneOf": [{ "type": "string" }, { "type": "array", "maxItems": 4, "items": { "type": "string" } }, { "type": "null" }] },
              "stream": { "type": "boolean", "default": false },
              "stream_options": { "type": ["object", "null"], "properties": { "include_usage": { "type": "boolean" } } },
              "tools": { "type": "array", "items": { "$ref": "#/components/schemas/Tool" } },
              "tool_choice": {
                "oneOf": [
                  { "enum": ["none", "auto", "required"] },
                  { "type": "object", "required": ["type", "function"], "properties": { "type": { "const": "function" }, "function": { "type": "object", "required": ["name"], "properties": { "name": { "type": "string" } } } } }
                ]
              },
              "response_format": {
                "oneOf": [
                  { "type": "object", "required": ["type"], "properties": { "type": { "const": "text" } } },
                  { "type": "object", "required": ["type"], "properties": { "type": { "const": "json_object" } } },
                  { "type": "object", "required": ["type", "json_schema"], "properties": { "type": { "const": "json_schema" }, "json_schema": { "type": "object", "required": ["name"], "properties": { "name": { "type": "string" }, "schema": { "type": "object" }, "strict": { "type": "boolean" } } } } }
                ]
              },
              "frequency_penalty": { "const": 0, "description": "Only 0 is accepted" },
              "presence_penalty": { "const": 0, "description": "Only 0 is accepted" },
              "user": { "type": "string" }
            }
          },
          "Usage": {
            "type": "object", "required": ["prompt_tokens", "completion_tokens", "total_tokens"],
            "properties": { "prompt_tokens": { "type": "integer" }, "completion_tokens": { "type": "integer" }, "total_tokens": { "type": "integer" } }
          },
          "FinishReason": { "enum": ["stop", "length", "tool_calls"] },
          "ChatCompletion": {
            "type": "object", "required": ["id", "object", "created", "model", "choices", "usage"],
            "properties": {
              "id": { "type": "string" }, "object": { "const": "chat.completion" }, "created": { "type": "integer" }, "model": { "type": "string" },
              "choices": {
                "type": "array",
                "items": {
                  "type": "object", "required": ["index", "message", "finish_reason"],
                  "properties": {
                    "index": { "type": "integer" },
                    "message": { "type": "object", "required": ["role", "content"], "properties": { "role": { "const": "assistant" }, "content": { "type": ["string", "null"] }, "tool_calls": { "type": "array", "items": { "$ref": "#/components/schemas/ToolCall" } } } },
                    "logprobs": { "type": "null" }, "finish_reason": { "$ref": "#/components/schemas/FinishReason" }
                  }
                }
              },
              "usage": { "$ref": "#/components/schemas/Usage" }
            }
          },
          "ChatCompletionChunk": {
            "type": "object", "required": ["id", "object", "created", "model", "choices"],
            "properties": {
              "id": { "type": "string" }, "object": { "const": "chat.completion.chunk" }, "created": { "type": "integer" }, "model": { "type": "string" },
              "choices": {
                "type": "array", "description": "Empty in the final usage chunk",
                "items": {
                  "type": "object", "required": ["index", "delta", "finish_reason"],
                  "properties": {
                    "index": { "type": "integer" },
                    "delta": { "type": "object", "properties": { "role": { "const": "assistant" }, "content": { "type": "string" }, "tool_calls": { "type": "array", "items": { "$ref": "#/components/schemas/ToolCall" } } } },
                    "logprobs": { "type": "null" }, "finish_reason": { "oneOf": [{ "$ref": "#/components/schemas/FinishReason" }, { "type": "null" }] }
                  }
                }
              },
              "usage": { "oneOf": [{ "$ref": "#/components/schemas/Usage" }, { "type": "null" }], "description": "Present when stream_options.include_usage is true; set only in the last chunk" }
            }
          },
          "CreateCompletionRequest": {
            "type": "object", "required": ["model", "prompt"],
            "properties": {
              "model": { "type": "string" }, "prompt": { "type": "string" },
              "max_tokens": { "type": "integer", "minimum": 1 }, "n": { "type": "integer", "minimum": 1, "maximum": 8 },
              "temperature": { "type": "number", "minimum": 0, "maximum": 2 }, "top_p": { "type": "number" }, "seed": { "type": "integer" },
              "stop": { "oneOf": [{ "type": "string" }, { "type": "array", "maxItems": 4, "items": { "type": "string" } }] },
              "stream": { "const": false, "description": "Streaming is only on /v1/chat/completions" }
            }
          },
          "Completion": {
            "type": "object", "required": ["id", "object", "created", "model", "choices", "usage"],
            "properties": {
              "id": { "type": "string" }, "object": { "const": "text_completion" }, "created": { "type": "integer" }, "model": { "type": "string" },
              "choices": { "type": "array", "items": { "type": "object", "required": ["index", "text", "finish_reason"], "properties": { "index": { "type": "integer" }, "text": { "type": "string" }, "logprobs": { "type": "null" }, "finish_reason": { "enum": ["stop", "length"] } } } },
              "usage": { "$ref": "#/components/schemas/Usage" }
            }
          },
          "CreateImageRequest": {
            "type": "object", "required": ["model", "prompt"],
            "properties": {
              "model": { "type": "string" }, "prompt": { "type": "string" },
              "n": { "type": "integer", "minimum": 1, "maximum": 4, "default": 1 },
              "size": { "type": "string", "pattern": "^[0-9]+x[0-9]+$", "examples": ["512x512"] },
              "response_format": { "const": "b64_json", "description": "Only base64 PNGs; URLs are not offered" },
              "seed": { "type": "integer", "description": "Extension" },
              "negative_prompt": { "type": "string", "description": "Extension" }
            }
          },
          "ImagesResponse": {
            "type": "object", "required": ["created", "data"],
            "properties": { "created": { "type": "integer" }, "data": { "type": "array", "items": { "type": "object", "required": ["b64_json"], "properties": { "b64_json": { "type": "string", "contentEncoding": "base64", "contentMediaType": "image/png" } } } } }
          },
          "APIKey": {
            "type": "object", "required": ["id", "name", "prefix", "created", "revoked"],
            "properties": {
              "id": { "type": "string" }, "name": { "type": "string" }, "prefix": { "type": "string", "description": "The first characters of the key" },
              "created": { "type": "integer" }, "expires_at": { "type": ["integer", "null"] }, "revoked": { "type": "boolean" },
              "budget_cnx": { "oneOf": [{ "$ref": "#/components/schemas/CNX" }, { "type": "null" }] }, "spent_cnx": { "$ref": "#/components/schemas/CNX" },
              "rpm": { "type": ["integer", "null"] }, "tpm": { "type": ["integer", "null"] },
              "models": { "type": ["array", "null"], "items": { "type": "string" }, "description": "null: every model" }
            }
          },
          "CreateKeyRequest": {
            "type": "object", "required": ["name"],
            "properties": {
              "name": { "type": "string" }, "budget_cnx": { "$ref": "#/components/schemas/CNX" }, "rpm": { "type": "integer", "minimum": 1 },
              "tpm": { "type": "integer", "minimum": 1 }, "models": { "type": "array", "items": { "type": "string" } }, "expires_at": { "type": "integer", "description": "Unix seconds" }
            }
          },
          "UpdateKeyRequest": {
            "type": "object",
            "properties": {
              "name": { "type": "string" }, "budget_cnx": { "oneOf": [{ "$ref": "#/components/schemas/CNX" }, { "type": "null" }] },
              "rpm": { "type": ["integer", "null"], "minimum": 1 }, "tpm": { "type": ["integer", "null"], "minimum": 1 },
              "models": { "type": ["array", "null"], "items": { "type": "string" } }, "expires_at": { "type": ["integer", "null"] }
            }
          },
          "UsageRow": {
            "type": "object", "required": ["group", "requests", "prompt_tokens", "completion_tokens", "fees_cnx"],
            "properties": {
              "group": { "type": "string", "description": "The key id, the model id or the day (YYYY-MM-DD, UTC)" }, "requests": { "type": "integer" },
              "prompt_tokens": { "type": "integer" }, "completion_tokens": { "type": "integer" }, "fees_cnx": { "$ref": "#/components/schemas/CNX" }
            }
          },
          "Balance": {
            "type": "object", "required": ["address", "balance_cnx", "floor_cnx", "accepting_paid_work", "checked_at"],
            "properties": {
              "address": { "type": "string", "description": "EIP-55 address of the Bridge wallet" }, "balance_cnx": { "$ref": "#/components/schemas/CNX" },
              "floor_cnx": { "$ref": "#/components/schemas/CNX" }, "accepting_paid_work": { "type": "boolean" }, "checked_at": { "type": "integer", "description": "Unix seconds" }
            }
          },
          "PaidTask": {
            "type": "object", "required": ["id", "key_id", "status", "created", "commitments", "fee_cnx"],
            "properties": {
              "id": { "type": "string" }, "key_id": { "type": ["string", "null"] }, "status": { "enum": ["pending", "done", "failed"] }, "created": { "type": "integer" },
              "commitments": { "type": "array", "items": { "type": "string" }, "description": "Task id commitments on the network (more than one with repeats or validation)" },
              "fee_cnx": { "$ref": "#/components/schemas/CNX" }
            }
          }
        }
      }
    }
    """#
}

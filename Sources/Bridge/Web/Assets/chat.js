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
    const response = await fetch("v1/models", { headers: authHeaders() });
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
    const response = await fetch("v1/chat/completions", {
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
  sessionStorage.setItem(KEY_STORE, apiKey());
  clearTimeout(keyTimer);
  keyTimer = setTimeout(loadModels, 300);
}

keyInput.addEventListener("input", keyChanged);
keyInput.addEventListener("change", () => { clearTimeout(keyTimer); sessionStorage.setItem(KEY_STORE, apiKey()); loadModels(); });
modelSelect.addEventListener("change", () => localStorage.setItem("crynux-model", modelSelect.value));
sendButton.addEventListener("click", send);
stopButton.addEventListener("click", stop);
$("new-chat").addEventListener("click", newChat);
promptInput.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) { event.preventDefault(); send(); }
});

// The key lives in this tab's session only (never in a URL, where logs and history keep it); a key an older
// page left in localStorage is removed.
localStorage.removeItem(KEY_STORE);
keyInput.value = sessionStorage.getItem(KEY_STORE) || "";
loadModels();

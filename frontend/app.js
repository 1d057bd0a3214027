// Ghostwriter page: streams a continuation from POST /generate (stream=true, text/event-stream).
// Generated text only ever reaches the page through text nodes, never as HTML.
"use strict";

const PARAMS = ["prefix", "model", "length", "temperature", "top_k", "top_p"];
// Retry-After outside this range is clamped: a missing or absurd header must not stall the page.
const RETRY_MIN_S = 1;
const RETRY_MAX_S = 60;

const el = (id) => document.getElementById(id);

const state = {
  controller: null, // AbortController of the request in flight
  retryTimer: null, // countdown interval while waiting out a 503/429
  maxLength: {}, // each served model's longest length, from /models
};

function setStatus(text) {
  el("status").textContent = text;
}

function showError(text) {
  const box = el("error");
  box.textContent = text;
  box.hidden = !text;
}

function clearInvalid() {
  for (const name of PARAMS) el(name).removeAttribute("aria-invalid");
}

function setRunning(running) {
  el("generate").disabled = running;
  el("stop").disabled = !running;
  el("output").setAttribute("aria-busy", String(running));
}

function readRequest() {
  const body = {
    prefix: el("prefix").value,
    length: Number(el("length").value),
    temperature: Number(el("temperature").value),
    top_k: Number(el("top_k").value),
    top_p: Number(el("top_p").value),
    stream: true,
  };
  if (el("model").value) body.model = el("model").value;
  return body;
}

// Splits a text/event-stream buffer into complete events; returns the events and the unparsed tail.
function parseEvents(buffer) {
  const events = [];
  const blocks = buffer.replace(/\r\n?/g, "\n").split("\n\n");
  const tail = blocks.pop();
  for (const block of blocks) {
    let name = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") name = value;
      else if (field === "data") data.push(value);
    }
    if (data.length) events.push({ name, data: data.join("\n") });
  }
  return { events, tail };
}

function appendContinuation(text) {
  el("output-continuation").append(document.createTextNode(text));
  el("copy").disabled = false;
}

function describeUsage(payload) {
  const usage = payload.usage || {};
  const reasons = { length: "length reached", stop: "stop string", eos: "end of text" };
  const reason = reasons[payload.finish_reason] || payload.finish_reason || "done";
  return `${usage.completion_tokens ?? "?"} tokens generated from ${usage.prompt_tokens ?? "?"} ` +
    `prompt tokens · ${reason}`;
}

// Applies one server-sent event; returns true when the generation is over: the final event
// ("done": true) or an error event. A stream that closes without either was cut.
function handleEvent(event) {
  const payload = JSON.parse(event.data);
  if (payload.error) {
    showError(payload.error.message);
    return true;
  }
  // The page asks for one sample; its events carry index 0.
  if (payload.index === 0 && payload.text) appendContinuation(payload.text);
  if (payload.done === true) {
    el("usage").textContent = describeUsage(payload);
    return true;
  }
  return false;
}

// Returns true when the final event arrived, false when the connection closed before it.
async function readStream(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return false;
    buffer += decoder.decode(value, { stream: true });
    const parsed = parseEvents(buffer);
    buffer = parsed.tail;
    for (const event of parsed.events) {
      if (handleEvent(event)) return true;
    }
  }
}

async function readError(response) {
  try {
    const body = await response.json();
    if (body && body.error) return body.error;
  } catch (_) {
    // Not JSON (e.g. a proxy's page): fall through to the status line.
  }
  return { message: `The server answered ${response.status} ${response.statusText}.`, param: null };
}

function retryDelaySeconds(response) {
  const seconds = Number.parseInt(response.headers.get("Retry-After") || "", 10);
  if (Number.isNaN(seconds)) return RETRY_MIN_S * 2;
  return Math.min(RETRY_MAX_S, Math.max(RETRY_MIN_S, seconds));
}

function scheduleRetry(seconds, reason) {
  let left = seconds;
  const tick = () => setStatus(`${reason} Retrying in ${left} s…`);
  tick();
  state.retryTimer = setInterval(() => {
    left -= 1;
    if (left > 0) return tick();
    clearInterval(state.retryTimer);
    state.retryTimer = null;
    generate();
  }, 1000);
}

// Nothing was generated: the prefix must not stay in the Text box as if it were output.
function clearOutput() {
  el("output-prefix").textContent = "";
  el("output-continuation").textContent = "";
  el("copy").disabled = true;
}

async function handleRejection(response) {
  const error = await readError(response);
  clearOutput();
  if (response.status === 503 || response.status === 429) {
    const reason = error.type === "not_ready"
      ? "The model is still loading."
      : "The server is busy.";
    scheduleRetry(retryDelaySeconds(response), reason);
    return;
  }
  setRunning(false);
  setStatus("");
  showError(error.message);
  if (error.param && PARAMS.includes(error.param)) {
    el(error.param).setAttribute("aria-invalid", "true");
    el(error.param).focus();
  }
}

async function generate() {
  const request = readRequest();
  clearInvalid();
  showError("");
  el("output-prefix").textContent = request.prefix;
  el("output-continuation").textContent = "";
  el("usage").textContent = "";
  el("copy").disabled = !request.prefix;
  setRunning(true);
  setStatus("Generating…");
  state.controller = new AbortController();
  try {
    const response = await fetch("generate", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify(request),
      signal: state.controller.signal,
    });
    if (!response.ok) return handleRejection(response);
    if (await readStream(response)) setStatus(el("error").hidden ? "Done." : "");
    else {
      setStatus("");
      showError("The connection closed before the text was finished. Try again.");
    }
  } catch (err) {
    if (err.name === "AbortError") setStatus("Stopped.");
    else {
      if (!el("output-continuation").textContent) clearOutput();
      showError(`Could not reach the server (${err.message}). Check that it is running.`);
    }
  }
  if (!state.retryTimer) setRunning(false);
}

function stop() {
  if (state.retryTimer) {
    clearInterval(state.retryTimer);
    state.retryTimer = null;
    setStatus("Stopped.");
  }
  if (state.controller) state.controller.abort();
  setRunning(false);
}

// navigator.clipboard exists only in secure contexts (HTTPS or localhost); plain HTTP on a
// server's address falls back to selecting the text and the legacy copy command.
async function copyText() {
  const text = el("output-prefix").textContent + el("output-continuation").textContent;
  try {
    await navigator.clipboard.writeText(text);
  } catch (_) {
    const range = document.createRange();
    range.selectNodeContents(el("output"));
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    if (!document.execCommand("copy")) {
      setStatus("Copy is blocked here: the text is selected, press Ctrl+C.");
      return;
    }
  }
  setStatus("Copied to the clipboard.");
}

// The Length field's range follows the selected model's longest length (its context less one
// prompt token, under the server's GHOST_MAX_LENGTH).
function followModelLimits() {
  const limit = state.maxLength[el("model").value];
  if (!limit) return;
  const length = el("length");
  length.max = String(limit);
  if (Number(length.value) > limit) length.value = String(limit);
}

async function loadModels() {
  const hint = el("model-hint");
  try {
    const response = await fetch("models");
    if (!response.ok) throw new Error((await readError(response)).message);
    const body = await response.json();
    const select = el("model");
    for (const model of body.models || []) {
      const option = document.createElement("option");
      option.value = model.name;
      option.textContent = model.name;
      option.selected = model.name === body.default;
      select.append(option);
      state.maxLength[model.name] = model.max_length;
    }
    followModelLimits();
    hint.textContent = select.options.length ? "" : "No model is being served.";
  } catch (err) {
    hint.textContent = `Could not list models: ${err.message}`;
  }
}

function showRangeValue(id) {
  const input = el(id);
  const update = () => {
    el(`${id}-value`).textContent = Number(input.value).toFixed(2);
  };
  input.addEventListener("input", update);
  update();
}

function onKeydown(event) {
  if (event.key === "Escape" && !el("stop").disabled) stop();
  else if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && !el("generate").disabled) {
    event.preventDefault();
    generate();
  }
}

document.addEventListener("DOMContentLoaded", () => {
  el("generate-form").addEventListener("submit", (event) => {
    event.preventDefault();
    generate();
  });
  el("stop").addEventListener("click", stop);
  el("copy").addEventListener("click", copyText);
  el("model").addEventListener("change", followModelLimits);
  document.addEventListener("keydown", onKeydown);
  showRangeValue("temperature");
  showRangeValue("top_p");
  loadModels();
});

// @ts-check
// The web app's page: BFF calls, the "what happened" panel and the live sequence diagram.
// The page never holds a token: it calls /bff/api/... with the session cookie (sent by the
// browser, unreadable here: HttpOnly) and the header X-Flowlab-CSRF: 1, and it reads /session,
// which carries the user's name, the admin hint and the narration, never a token.

import { drawDiagram, flowArrows } from "/spa-static/sequence_diagram.js";

const POLL_MS = 3000;

/** @param {string} id */
function byId(id) {
  return /** @type {HTMLElement} */ (document.getElementById(id));
}

/** @param {any[]} events */
function showSteps(events) {
  const items = events.map((event) => {
    const item = document.createElement("li");
    item.dataset.step = event.name;
    const title = document.createElement("strong");
    title.textContent = `${event.number}. ${event.title}`;
    const detail = document.createElement("p");
    detail.textContent = event.detail;
    item.append(title, detail);
    return item;
  });
  byId("steps").replaceChildren(...items);
  const svg = /** @type {SVGSVGElement} */ (/** @type {unknown} */ (byId("sequence-diagram")));
  drawDiagram(svg, flowArrows(events));
}

async function readSession() {
  const answer = await fetch("/session", { headers: { Accept: "application/json" } });
  return answer.json();
}

/** @type {Record<string, string>} */
const EXPIRED = {
  idle: "Signed out: the session was idle too long (polling this page is no activity).",
  absolute: "Signed out: the session reached its absolute lifetime.",
};

/** @param {string | null} expired */
function showEnded(expired) {
  const status = byId("status");
  status.dataset.state = "ended";
  status.textContent =
    (expired && EXPIRED[expired]) ??
    "Signed out: your session here was ended by the authorization server (9. back-channel logout: you logged out elsewhere).";
  for (const button of document.querySelectorAll(
    "button[data-path], form[action='/logout'] button",
  )) {
    /** @type {HTMLButtonElement} */ (button).disabled = true;
  }
}

async function refresh() {
  const state = await readSession();
  showSteps(state.events);
  if (byId("status").dataset.state === "signed-in" && !state.signedIn) showEnded(state.expired);
}

/** @param {HTMLButtonElement} button */
async function callApi(button) {
  const method = button.dataset.method ?? "GET";
  /** @type {RequestInit} */
  const init = { method, headers: { "X-Flowlab-CSRF": "1", Accept: "application/json" } };
  if (method === "POST") {
    const text = /** @type {HTMLInputElement} */ (byId("message-text")).value;
    init.headers = { ...init.headers, "Content-Type": "application/json" };
    init.body = JSON.stringify({ text });
  }
  const answer = await fetch(`/bff/api/${button.dataset.path}`, init);
  byId("api-result").hidden = false;
  byId("api-status").textContent = `${method} /api/${button.dataset.path} → ${answer.status}`;
  byId("api-status").dataset.status = String(answer.status);
  const challenge = answer.headers.get("WWW-Authenticate");
  byId("api-www-authenticate").hidden = challenge === null;
  byId("api-www-authenticate").textContent = challenge ? `WWW-Authenticate: ${challenge}` : "";
  const body = await answer.text();
  try {
    byId("api-body").textContent = JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    byId("api-body").textContent = body;
  }
  const result = byId("api-result");
  result.dataset.calls = String(Number(result.dataset.calls ?? "0") + 1);
  await refresh();
}

for (const button of document.querySelectorAll("button[data-path]")) {
  button.addEventListener("click", () => callApi(/** @type {HTMLButtonElement} */ (button)));
}
await refresh();
document.body.dataset.ready = "true";
setInterval(refresh, POLL_MS);

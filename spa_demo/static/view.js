// @ts-check
// Everything the page shows. Text goes in with textContent only, never as HTML: the API's
// answers, error descriptions from the address bar and token claims are all untrusted input
// (and the CSP's Trusted Types would stop any innerHTML anyway).

import { decodeJwt } from "./jwt.js";
import { REFRESH_TOKENS_KEY as SDK_REFRESH_TOKENS } from "./sdk_mode.js";

/** @typedef {import("./api_client.js").ApiResult} ApiResult */
/** @typedef {import("./api_client.js").Endpoint} Endpoint */
/** @typedef {import("./main.js").Mode} Mode */
/** @typedef {import("./main.js").Session} Session */
/** @typedef {import("./steps.js").StepEntry} StepEntry */

/**
 * An element of index.html: the page and this module change together.
 *
 * @param {string} id
 */
function byId(id) {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`index.html has no element #${id}.`);
  return node;
}

/** @param {string} id */
const inputById = (id) => /** @type {HTMLInputElement} */ (byId(id));
/** @param {string} id */
const buttonById = (id) => /** @type {HTMLButtonElement} */ (byId(id));

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {{ className?: string, testid?: string, text?: string }} [options]
 * @param {(Node | string)[]} [children]
 */
function element(tag, { className, testid, text } = {}, children = []) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (testid) node.dataset.testid = testid;
  if (text !== undefined) node.textContent = text;
  node.append(...children);
  return node;
}

/** @param {unknown} value */
const json = (value) => JSON.stringify(value, null, 2);

/**
 * @typedef {object} Controls
 * @property {() => void} onLogin
 * @property {() => void} onLoginPopup
 * @property {(use: boolean) => void} onRefreshTokensChange
 * @property {() => void} onLogout
 * @property {() => void} onRenew
 * @property {(mode: string) => void} onModeChange
 * @property {(endpoint: Endpoint) => void} onCallApi
 */

/**
 * @param {Controls} controls
 * @param {Endpoint[]} endpoints
 */
export function bindControls(
  { onLogin, onLoginPopup, onRefreshTokensChange, onLogout, onRenew, onModeChange, onCallApi },
  endpoints,
) {
  byId("login").addEventListener("click", onLogin);
  byId("login-popup").addEventListener("click", onLoginPopup);
  const refreshTokens = inputById("sdk-refresh-tokens");
  refreshTokens.addEventListener("change", () => onRefreshTokensChange(refreshTokens.checked));
  byId("logout").addEventListener("click", onLogout);
  byId("renew").addEventListener("click", onRenew);
  for (const radio of document.querySelectorAll("input[name=mode]")) {
    if (!(radio instanceof HTMLInputElement)) continue;
    radio.addEventListener("change", () => onModeChange(radio.value));
  }
  byId("endpoints").append(
    ...endpoints.map((endpoint) => {
      const button = element("button", {
        testid: `call-${endpoint.id}`,
        text: `${endpoint.method} ${endpoint.path}`,
      });
      button.type = "button";
      button.id = `call-${endpoint.id}`;
      button.addEventListener("click", () => onCallApi(endpoint));
      return element("div", { className: "endpoint" }, [
        button,
        element("span", { className: "needs", text: `needs ${endpoint.needs}` }),
      ]);
    }),
  );
}

export function messageText() {
  return inputById("message-text").value;
}

/** @param {Mode} mode */
export function showMode(mode) {
  inputById(`mode-${mode.id}`).checked = true;
  byId("implicit-banner").hidden = mode.id !== "implicit";
  byId("code-banner").hidden = mode.id !== "code";
  byId("sdk-banner").hidden = mode.id !== "sdk";
  byId("login-popup").hidden = mode.id !== "sdk";
  inputById("sdk-refresh-tokens").checked = sessionStorage.getItem(SDK_REFRESH_TOKENS) === "true";
}

// Why the SDK mode cannot work here (the npm install is missing), or null.
/** @param {string | null} text */
export function showSdkMissing(text) {
  const box = byId("sdk-missing");
  box.hidden = text === null;
  box.textContent = text ?? "";
}

/**
 * @param {"working" | "signed-out" | "signed-in"} state
 * @param {string} text
 */
function showStatus(state, text) {
  const status = byId("status");
  status.dataset.state = state;
  status.textContent = text;
  buttonById("login").disabled = state !== "signed-out";
  buttonById("login-popup").disabled = state !== "signed-out";
  buttonById("logout").disabled = state === "working";
  buttonById("renew").disabled = state === "working";
}

/** @param {string} text */
export function showBusy(text) {
  showStatus("working", text);
}

/** @param {{ code: string, description: string } | null} error */
export function showError(error) {
  const box = byId("error");
  box.hidden = error === null;
  box.dataset.code = error?.code ?? "";
  box.replaceChildren(
    ...(error === null ? [] : [element("strong", { text: error.code }), ` ${error.description}`]),
  );
}

/**
 * @param {string} prefix
 * @param {string | undefined} token
 */
function showTokenParts(prefix, token) {
  /** @type {{ header: unknown, payload: unknown } | null} */
  let decoded = null;
  if (token) {
    try {
      decoded = decodeJwt(token);
    } catch {
      decoded = {
        header: "not a JWT: opaque to this app, as access tokens should be",
        payload: "",
      };
    }
  }
  byId(`${prefix}-empty`).hidden = decoded !== null;
  for (const part of /** @type {const} */ (["header", "payload"])) {
    const pre = byId(`${prefix}-${part}`);
    pre.hidden = decoded === null;
    pre.textContent =
      decoded === null
        ? ""
        : `${part}: ${typeof decoded[part] === "string" ? decoded[part] : json(decoded[part])}`;
  }
}

/** @param {Session | null} session */
export function showSession(session) {
  const profile = byId("profile");
  const expiry = byId("access-token-expiry");
  showTokenParts("id-token", session?.idToken);
  showTokenParts("access-token", session?.accessToken);
  if (session === null) {
    showStatus("signed-out", "Signed out. No token in memory.");
    profile.hidden = true;
    profile.replaceChildren();
    expiry.hidden = true;
    return;
  }
  const claims = session.idClaims;
  showStatus(
    "signed-in",
    `Signed in as ${claims.email ?? claims.sub} with the ${session.flow.name}.`,
  );
  /** @type {[string, string | undefined][]} */
  const rows = [
    ["Name", claims.name],
    ["Email", claims.email],
    [
      "Email verified",
      claims.email_verified === undefined ? undefined : String(claims.email_verified),
    ],
    ["Subject (sub)", claims.sub],
    ["Granted scopes", session.scope ?? "as requested"],
  ];
  profile.replaceChildren(
    ...rows.flatMap(([term, value]) =>
      value === undefined ? [] : [element("dt", { text: term }), element("dd", { text: value })],
    ),
  );
  profile.hidden = false;
  const seconds = Math.round((session.expiresAt - Date.now()) / 1000);
  expiry.dataset.expiresAt = String(session.expiresAt);
  expiry.textContent = `Expires at ${new Date(session.expiresAt).toLocaleTimeString()} (in ${seconds} s); the app renews it silently shortly before.`;
  expiry.hidden = false;
}

/**
 * @param {string} requestLine
 * @param {ApiResult} result
 */
export function showApiResult(requestLine, result) {
  const box = byId("api-result");
  box.hidden = false;
  box.dataset.status = String(result.status);
  box.dataset.calls = String(Number(box.dataset.calls ?? 0) + 1);
  byId("api-request").textContent = requestLine;
  byId("api-status").textContent = `${result.status} ${result.statusText}`;
  byId("api-status").className =
    `status-line ${result.status >= 200 && result.status < 300 ? "ok" : "failed"}`;
  const challenge = byId("api-www-authenticate");
  challenge.hidden = !result.wwwAuthenticate;
  challenge.textContent = result.wwwAuthenticate
    ? `WWW-Authenticate: ${result.wwwAuthenticate}`
    : "";
  byId("api-body").textContent = typeof result.body === "string" ? result.body : json(result.body);
}

/** @param {StepEntry[]} entries */
export function showSteps(entries) {
  byId("steps").replaceChildren(
    ...entries.map((entry) => {
      const heading =
        entry.number === null
          ? element("p", { className: "step-title", text: entry.title })
          : element("p", { className: "step-title" }, [
              element("span", {
                className: "step-number",
                text: `Step ${entry.number} of ${entry.total}`,
              }),
              element("span", { className: "step-flow", text: entry.flowName ?? "" }),
              element("span", { className: "step-text", text: entry.title }),
            ]);
      const item = element("li", { className: `step ${entry.outcome}`, testid: "step" }, [
        heading,
        element(
          "ul",
          {},
          entry.lines.map((line) => element("li", { text: line })),
        ),
      ]);
      item.dataset.step = entry.number === null ? "" : String(entry.number);
      item.dataset.outcome = entry.outcome;
      return item;
    }),
  );
}

export function markReady() {
  document.body.dataset.ready = "true";
}

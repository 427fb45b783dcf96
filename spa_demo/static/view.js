// @ts-check
// Everything the page shows. Text goes in with textContent only, never as HTML: the API's
// answers, error descriptions from the address bar and token claims are all untrusted input
// (and the CSP's Trusted Types would stop any innerHTML anyway).

import { claimDate, explainClaim, formatTime } from "./claims.js";
import { decodeJwt } from "./jwt.js";
import { REFRESH_TOKENS_KEY as SDK_REFRESH_TOKENS } from "./sdk_mode.js";
import { drawDiagram, flowArrows } from "./sequence_diagram.js";

/** @typedef {import("./api_client.js").ApiResult} ApiResult */
/** @typedef {import("./api_client.js").Endpoint} Endpoint */
/** @typedef {import("./main.js").Mode} Mode */
/** @typedef {import("./main.js").Session} Session */
/** @typedef {import("./steps.js").StepEntry} StepEntry */
/** @typedef {import("./claims.js").TokenKind} TokenKind */

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
 * A token's payload as the learner reads it: each claim with its value, the date beside a time,
 * and one line on what it means; the raw JSON below.
 *
 * @param {Record<string, unknown>} payload
 * @param {TokenKind} kind
 * @param {string} testid
 */
function claimList(payload, kind, testid) {
  const rows = Object.entries(payload).flatMap(([name, value]) => {
    const date = claimDate(name, value);
    const meaning = explainClaim(name, value, kind);
    const term = element("dt", {}, [element("code", { text: name })]);
    term.title = meaning;
    const description = element("dd", { testid: `claim-${name}` }, [
      element("span", { className: "claim-value", text: JSON.stringify(value) }),
      ...(date === null ? [] : [element("span", { className: "claim-date", text: date })]),
      ...(meaning ? [element("span", { className: "claim-meaning", text: meaning })] : []),
    ]);
    return [term, description];
  });
  return [
    element("dl", { className: "claims" }, rows),
    element("details", {}, [
      element("summary", { text: "The payload as JSON" }),
      element("pre", { testid: `${testid}-json`, text: json(payload) }),
    ]),
  ];
}

/**
 * @param {string} prefix
 * @param {TokenKind} kind
 * @param {string | undefined} token
 */
function showTokenParts(prefix, kind, token) {
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
  const header = byId(`${prefix}-header`);
  header.hidden = decoded === null;
  header.textContent =
    decoded === null
      ? ""
      : `header: ${typeof decoded.header === "string" ? decoded.header : json(decoded.header)}`;
  const payload = byId(`${prefix}-payload`);
  const claims = decoded?.payload;
  payload.hidden = typeof claims !== "object" || claims === null;
  payload.replaceChildren(
    ...(payload.hidden
      ? []
      : claimList(/** @type {Record<string, unknown>} */ (claims), kind, `${prefix}-payload`)),
  );
}

/**
 * @param {Session | null} session
 * @param {string} [signedOut] What the status says when there is no session.
 */
export function showSession(session, signedOut = "Signed out. No token in memory.") {
  const profile = byId("profile");
  const expiry = byId("access-token-expiry");
  showTokenParts("id-token", "id", session?.idToken);
  showTokenParts("access-token", "access", session?.accessToken);
  if (session === null) {
    showStatus("signed-out", signedOut);
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
  expiry.textContent = `Expires at ${formatTime(session.expiresAt)} (in ${seconds} s); the app renews it silently shortly before.`;
  expiry.hidden = false;
}

// Why /api/me shows name and email as null: said beside its answer.
const PROFILE_NOTE =
  "name and email are null: Auth0 access tokens carry no profile claims (the API gets sub, scope, permissions). The profile comes from the ID token (see Decoded tokens) or from the issuer's /userinfo endpoint.";

/**
 * Whether an answer says yes (2xx), no (4xx: a refusal, which explains itself) or failed.
 *
 * @param {number} status
 * @returns {"ok" | "refused" | "failed"}
 */
export function answerOutcome(status) {
  if (status >= 200 && status < 300) return "ok";
  return status >= 400 && status < 500 ? "refused" : "failed";
}

/**
 * @param {Endpoint} endpoint
 * @param {string} requestLine
 * @param {ApiResult} result
 */
export function showApiResult(endpoint, requestLine, result) {
  const box = byId("api-result");
  box.hidden = false;
  box.dataset.status = String(result.status);
  box.dataset.calls = String(Number(box.dataset.calls ?? 0) + 1);
  byId("api-request").textContent = requestLine;
  byId("api-status").textContent = `${result.status} ${result.statusText}`;
  byId("api-status").className = `status-line ${answerOutcome(result.status)}`;
  const profileNote = byId("api-profile-note");
  profileNote.hidden = endpoint.id !== "me" || result.status !== 200;
  profileNote.textContent = profileNote.hidden ? "" : PROFILE_NOTE;
  const challenge = byId("api-www-authenticate");
  challenge.hidden = !result.wwwAuthenticate;
  challenge.textContent = result.wwwAuthenticate
    ? `WWW-Authenticate: ${result.wwwAuthenticate}`
    : "";
  byId("api-body").textContent = typeof result.body === "string" ? result.body : json(result.body);
}

/** @param {StepEntry[]} entries */
export function showDiagram(entries) {
  drawDiagram(
    /** @type {SVGSVGElement} */ (/** @type {unknown} */ (byId("sequence-diagram"))),
    flowArrows(entries),
  );
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

// @ts-check
// The page's controller: starts flows, finishes them when the browser comes back, keeps the
// tokens in memory, renews them silently, calls the API, and narrates every step.

import { ENDPOINTS, callApi } from "./api_client.js";
import {
  authorizationUrl,
  checkAuthorizationResponse,
  isAuthorizationResponse,
  newState,
  savePending,
  takePending,
} from "./authorization.js";
import { codePkce } from "./code_pkce.js";
import { FlowError } from "./errors.js";
import { implicitGrant } from "./implicit_grant.js";
import {
  checkLogoutResponse,
  isLogoutResponse,
  logoutUrl,
  saveLogoutNarration,
  saveLogoutState,
  takeLogoutNarration,
  takeLogoutState,
} from "./logout.js";
import { SdkMode, sdkMode, setUsesRefreshTokens } from "./sdk_mode.js";
import { loadSettings } from "./settings.js";
import { loadInHiddenFrame } from "./silent_auth.js";
import { StepLog, describeRequest, describeResponse, hasStep } from "./steps.js";
import { shorten } from "./tokens.js";
import * as view from "./view.js";

/** @typedef {import("./api_client.js").Endpoint} Endpoint */
/** @typedef {import("./authorization.js").Flow} Flow */
/** @typedef {import("./authorization.js").Pending} Pending */
/** @typedef {import("./settings.js").Settings} Settings */
/** @typedef {import("./sdk_mode.js").SdkTokens} SdkTokens */
/** @typedef {import("./steps.js").NarratedFlow & { id: string }} Mode */
/** @typedef {import("./tokens.js").Tokens} Tokens */

/**
 * The signed-in state: the tokens of the last flow that succeeded, and when the access token
 * expires (milliseconds, Date.now()'s clock).
 *
 * @typedef {Tokens & { flow: Mode, expiresAt: number }} Session
 */

/** @type {Record<string, Flow>} */
const FLOWS = { [codePkce.id]: codePkce, [implicitGrant.id]: implicitGrant };
const MODE_KEY = "flowlab.mode";
const RENEW_SECONDS_BEFORE_EXPIRY = 30;

// prompt=none's answers that mean "no session at the issuer": on a page load that is the
// expected answer, not an error. OpenID Connect Core §3.1.2.6, login_required: "The
// Authorization Server requires End-User authentication. This error MAY be returned when the
// prompt parameter value in the Authentication Request is none".
const NO_SESSION_ERRORS = new Set(["login_required", "interaction_required"]);
const SIGNED_OUT_AT_ISSUER =
  "Signed out: the app dropped its tokens and the issuer ended its session. Log in to start again.";

// The steps panel and the sequence diagram, drawn from the same narrated log.
const log = new StepLog((entries) => {
  view.showSteps(entries);
  view.showDiagram(entries);
});
// The third mode: Auth0's SDK does the flow, this page narrates what it sends.
const sdk = new SdkMode(log);
/** @type {Settings | null} */
let loadedSettings = null;
// The tokens: in this variable only. Not in localStorage or sessionStorage (any script of this
// origin could read them there, and they would outlive the tab), not in a cookie.
/** @type {Session | null} */
let session = null;
/** @type {number | undefined} */
let renewalTimer;
// Set when the page is about to navigate away (login, logout): nothing left to render.
let leaving = false;
// What the status says while there is no session.
let signedOutText = "Signed out. No token in memory.";

// The settings, once loaded; an action before that (the issuer was unreachable) fails here.
function settings() {
  if (loadedSettings === null) {
    throw new FlowError(
      "not_ready",
      "The settings or the issuer's discovery document could not be loaded: reload the page once the issuer is reachable.",
    );
  }
  return loadedSettings;
}

function selectedModeId() {
  return sessionStorage.getItem(MODE_KEY) ?? codePkce.id;
}

function sdkSelected() {
  return selectedModeId() === sdkMode.id;
}

/** @returns {Mode} */
function selectedMode() {
  return sdkSelected() ? sdkMode : selectedFlow();
}

// The hand-written flow in use (the PKCE one when the SDK mode is selected).
function selectedFlow() {
  return FLOWS[selectedModeId()] ?? codePkce;
}

/**
 * @param {Flow} flow
 * @param {Tokens} tokens
 */
function startSession(flow, tokens) {
  session = { flow, ...tokens, expiresAt: Date.now() + tokens.expiresIn * 1000 };
  const renewAfter = Math.max(tokens.expiresIn - RENEW_SECONDS_BEFORE_EXPIRY, tokens.expiresIn / 2);
  clearTimeout(renewalTimer);
  renewalTimer = setTimeout(
    () => run(() => renewSilently("the access token is about to expire")),
    renewAfter * 1000,
  );
  log.add(
    `Tokens kept in memory only; the access token expires in ${tokens.expiresIn} s, silent renewal in ${Math.round(renewAfter)} s`,
  );
}

// The SDK renews by itself whenever getTokenSilently() finds the cached token about to expire.
/** @param {SdkTokens} tokens */
function startSdkSession(tokens) {
  clearTimeout(renewalTimer);
  session = { flow: sdkMode, ...tokens };
}

function endSession() {
  clearTimeout(renewalTimer);
  session = null;
}

// From the user's authentication to the tokens: the response, from the address bar or the
// iframe, checked, then the flow's own steps to its tokens.
/**
 * @param {Flow} flow
 * @param {URL} landedAt
 * @param {Pending | null} pending
 * @param {boolean} silent
 */
async function finishAuthorization(flow, landedAt, pending, silent) {
  const current = settings();
  const response = flow.responseParameters(landedAt);
  const refusal = response.get("error");
  // Only an answer without an error says the user was authenticated.
  const authenticated =
    refusal !== null
      ? []
      : [
          silent
            ? "prompt=none: the issuer recognised its session cookie; no page was shown"
            : "The user signed in on the issuer's login page; this app never sees the password",
        ];
  const arrival = [
    ...describeResponse(landedAt, response),
    silent
      ? "Read from the hidden iframe, which is then removed"
      : "Removed from the address bar at once with history.replaceState",
  ];
  const arrow =
    refusal !== null
      ? { label: `error=${refusal}`, kind: /** @type {const} */ ("error") }
      : { label: flow.id === "implicit" ? "tokens in the #fragment" : "code in the ?query" };
  // The implicit grant's article gives the user's authentication a step of its own; the PKCE
  // steps tell it with the response.
  if (hasStep(flow, "authentication") && refusal === null) {
    log.begin(flow, "authentication", authenticated, {
      label: silent ? "session cookie recognised" : "the user signs in",
    });
    log.begin(flow, "response", arrival, arrow);
  } else {
    log.begin(flow, "response", [...authenticated, ...arrival], arrow);
  }
  checkAuthorizationResponse(response, pending, current);
  log.add("✓ state matches the value this app generated before sending the request");
  log.add(
    response.has("iss")
      ? `✓ iss = ${current.issuer} (RFC 9207: the response comes from our issuer)`
      : "iss not sent: this issuer does not support RFC 9207",
  );
  const tokens = await flow.complete(response, pending, current, log);
  startSession(flow, tokens);
}

async function login() {
  if (sdkSelected()) {
    leaving = true;
    view.showBusy("Redirecting to the authorization server…");
    try {
      await sdk.loginWithRedirect(settings());
    } catch (error) {
      leaving = false;
      throw error;
    }
    return;
  }
  const flow = selectedFlow();
  const { params, pending, notes } = await flow.prepare();
  const url = authorizationUrl(settings(), params);
  const requestLines = describeRequest(url, [
    ...notes,
    `${flow.kept} wait in sessionStorage (this tab only) for the response`,
  ]);
  log.begin(flow, "request", requestLines);
  savePending({ ...pending, requestLines });
  leaving = true;
  view.showBusy("Redirecting to the authorization server…");
  window.location.assign(url.href);
}

/**
 * @param {URL} landedAt
 * @param {Pending | null} pending
 */
async function handleCallback(landedAt, pending) {
  // A hand-written flow's response (its pending request was kept) goes to that flow.
  if (pending === null && sdkSelected()) {
    startSdkSession(await sdk.handleRedirectCallback(settings(), landedAt));
    return;
  }
  const flow = (pending !== null && FLOWS[pending.flow]) || selectedFlow();
  if (pending !== null) log.begin(flow, "request", pending.requestLines);
  await finishAuthorization(flow, landedAt, pending, false);
}

// The authorization request again with prompt=none, for a hidden iframe.
/** @param {Flow} flow */
async function silentRequest(flow) {
  const { params, pending, notes } = await flow.prepare();
  const url = authorizationUrl(settings(), { ...params, prompt: "none" });
  const lines = describeRequest(url, [
    ...notes,
    `prompt=none, in a hidden iframe: no page is shown; ${flow.kept} stay in memory`,
  ]);
  return { url, pending, lines };
}

/** @param {string} reason */
async function renewSilently(reason) {
  if (sdkSelected()) {
    startSdkSession(await sdk.getTokenSilently(settings(), reason, true));
    return;
  }
  const current = settings();
  const flow = selectedFlow();
  log.note(`Silent re-authentication: ${reason}`);
  const { url, pending, lines } = await silentRequest(flow);
  log.begin(flow, "request", lines, { label: "GET /authorize prompt=none" });
  endSession();
  await finishAuthorization(
    flow,
    await loadInHiddenFrame(url.href, current.redirectUri),
    pending,
    true,
  );
}

// On a page load: is there a session at the issuer? "No" is the usual answer on a first visit,
// told as a plain line, not as an error; "yes" continues as the flow's steps.
/** @param {boolean} startsFlow False when the check follows a logout the diagram still shows. */
async function checkForSession(startsFlow) {
  const current = settings();
  const flow = selectedFlow();
  const { url, pending, lines } = await silentRequest(flow);
  log.note(
    "Checking for an existing session at the issuer: tokens live in memory only, so a loaded page has none of its own",
    lines,
    {
      arrow: {
        from: "browser",
        to: "issuer",
        label: "GET /authorize prompt=none",
        kind: "request",
      },
      startsFlow,
    },
  );
  const landedAt = await loadInHiddenFrame(url.href, current.redirectUri);
  const answer = flow.responseParameters(landedAt);
  const error = answer.get("error") ?? "";
  if (NO_SESSION_ERRORS.has(error) && answer.get("state") === pending.state) {
    log.arrow({
      from: "issuer",
      to: "browser",
      label: `error=${error}: no session`,
      kind: "neutral",
    });
    log.add(
      `checking for an existing session: none (the issuer answered error=${error}: it has no session for this browser). Log in to get tokens.`,
    );
    return;
  }
  log.add("checking for an existing session: the issuer answered with an authorization response");
  await finishAuthorization(flow, landedAt, pending, true);
}

// On a plain page load the tokens are gone (memory only): get them back if the session lives.
/** @param {boolean} startsFlow */
async function restoreSession(startsFlow) {
  if (!sdkSelected()) return checkForSession(startsFlow);
  const restored = await sdk.restore(settings());
  if (restored !== null) startSdkSession(restored);
}

/** @param {Endpoint} endpoint */
async function callEndpoint(endpoint) {
  const { apiUrl, requestTimeoutMs } = settings();
  if (endpoint.sendsToken && session !== null && session.flow === sdkMode) {
    // The SDK mode asks the SDK for the token before every call: its cache, or a renewal.
    startSdkSession(await sdk.accessToken(settings()));
  } else if (endpoint.sendsToken && session !== null && Date.now() >= session.expiresAt) {
    await renewSilently("the access token has expired");
  }
  const sending = endpoint.sendsToken ? session : null;
  const token = sending?.accessToken;
  const body = endpoint.method === "POST" ? { text: view.messageText() } : undefined;
  const requestLine = [
    `${endpoint.method} ${apiUrl}${endpoint.path}`,
    token ? `Authorization: Bearer ${shorten(token)}` : "no Authorization header",
    body === undefined ? "" : `body ${JSON.stringify(body)}`,
  ]
    .filter(Boolean)
    .join("  ·  ");
  const label = `${endpoint.method} ${endpoint.path}`;
  if (sending !== null) log.begin(sending.flow, "api_call", [requestLine], { label });
  else {
    log.note(`Called ${endpoint.path} without an access token`, [requestLine], {
      arrow: { from: "browser", to: "api", label, kind: "request" },
    });
  }
  let result;
  try {
    result = await callApi(apiUrl, endpoint, token, body, requestTimeoutMs);
  } catch (error) {
    // No answer (or not JSON): shown where the answer would be; run() narrates the failure.
    if (error instanceof FlowError) {
      view.showApiResult(endpoint, requestLine, {
        status: 0,
        statusText: error.code,
        wwwAuthenticate: null,
        body: error.description,
      });
    }
    throw error;
  }
  view.showApiResult(endpoint, requestLine, result);
  narrateAnswer(result);
}

// The API's answer in the steps panel and the diagram: a refusal (401, 403) is told as one,
// with the WWW-Authenticate challenge that explains it (RFC 6750 §3).
/** @param {import("./api_client.js").ApiResult} result */
function narrateAnswer(result) {
  const outcome = view.answerOutcome(result.status);
  const body = /** @type {{ error?: unknown, error_description?: unknown } | null} */ (
    typeof result.body === "object" ? result.body : null
  );
  const code = typeof body?.error === "string" ? body.error : result.statusText;
  log.add(`→ ${result.status} ${result.statusText}`);
  if (result.wwwAuthenticate) log.add(`WWW-Authenticate: ${result.wwwAuthenticate}`);
  log.arrow({
    from: "api",
    to: "browser",
    label: `${result.status} ${outcome === "ok" ? result.statusText : code}`,
    kind: outcome === "ok" ? "response" : "error",
  });
  if (outcome === "ok") return;
  const reason = typeof body?.error_description === "string" ? `: ${body.error_description}` : "";
  const why = result.wwwAuthenticate ? " (the WWW-Authenticate challenge above says why)" : "";
  log.settle(
    outcome,
    `✗ ${outcome === "refused" ? "Refused by the API" : "The API failed"}, ${code}${reason}${why}`,
  );
}

const LOGOUT_TITLE =
  "Log out: tokens dropped from memory; now the issuer ends its session too, or silent authentication would sign the user straight back in";

// The logout request in the steps panel and the diagram; kept in sessionStorage too, to be told
// again when the issuer sends the browser back to returnTo (a new page load).
/**
 * @param {string} url
 * @param {string[]} [notes]
 */
function narrateLogout(url, notes = []) {
  const sent = new URL(url);
  const narration = { path: sent.pathname, lines: describeRequest(sent, notes) };
  tellLogoutRequest(narration);
  saveLogoutNarration(narration);
}

/** @param {import("./logout.js").LogoutNarration} narration */
function tellLogoutRequest({ path, lines }) {
  log.note(LOGOUT_TITLE, lines, {
    arrow: { from: "browser", to: "issuer", label: `GET ${path}`, kind: "request" },
    startsFlow: true,
  });
}

// Back at returnTo after a logout (a new page load): the request told again, the issuer's
// redirect (with the state of an RP-Initiated Logout, checked), then the signed-out state.
/**
 * @param {URL} landedAt
 * @param {import("./logout.js").LogoutNarration | null} narration The logout request as told
 *   before the redirect, null if this page sent none.
 * @param {string | null} expectedState
 */
function finishLogout(landedAt, narration, expectedState) {
  if (narration !== null) tellLogoutRequest(narration);
  log.note(
    `Back from the issuer's logout endpoint, at returnTo (${settings().returnTo})`,
    describeResponse(landedAt, landedAt.searchParams),
    { arrow: { from: "issuer", to: "browser", label: "redirect to returnTo", kind: "response" } },
  );
  if (isLogoutResponse(landedAt)) {
    checkLogoutResponse(landedAt.searchParams, expectedState);
    log.add("✓ state matches the value this app sent with the logout request");
  }
  signedOutText = SIGNED_OUT_AT_ISSUER;
  log.note("Signed out: no token in this page, no session at the issuer");
}

async function logout() {
  if (sdkSelected()) {
    endSession();
    leaving = true;
    view.showBusy("Logging out at the authorization server…");
    try {
      await sdk.logout(settings(), narrateLogout);
    } catch (error) {
      leaving = false;
      throw error;
    }
    return;
  }
  const state = newState();
  const url = logoutUrl(settings(), session?.idToken, state);
  endSession();
  takePending();
  saveLogoutState(state);
  narrateLogout(url, [
    "post_logout_redirect_uri: where the issuer sends the browser back, Auth0's returnTo (OpenID Connect RP-Initiated Logout names it so)",
  ]);
  leaving = true;
  view.showBusy("Logging out at the authorization server…");
  window.location.assign(url);
}

// The popup opens at once, in the click's task (popup blockers); the SDK then sends it to Auth0.
function loginWithPopup() {
  const popup = window.open("", "auth0:authorize:popup", "width=400,height=600");
  return sdk.loginWithPopup(settings(), popup).then(startSdkSession);
}

// The SDK is loaded when its mode is chosen, so a missing npm install shows at once.
async function loadSdk() {
  try {
    await sdk.load(settings());
    view.showSdkMissing(null);
  } catch (error) {
    if (error instanceof FlowError && error.code === "sdk_missing") {
      view.showSdkMissing(error.description);
    }
    throw error;
  }
}

/** @param {string} id */
function selectMode(id) {
  sessionStorage.setItem(MODE_KEY, id);
  const mode = selectedMode();
  view.showMode(mode);
  log.note(`Flow switched to the ${mode.name}: used by the next login or renewal.`);
  if (mode === sdkMode) act(loadSdk);
}

/** @param {boolean} use */
function selectRefreshTokens(use) {
  setUsesRefreshTokens(use);
  log.note(
    `useRefreshTokens: ${use}. The SDK's client is created again at the next SDK call, with an empty cache: log in again.`,
  );
}

// Runs one user action or flow; any failure is shown and narrated, and leaves no token behind
// unless the session was already established before the action.
/** @param {() => unknown} action */
async function run(action) {
  view.showError(null);
  view.showBusy("Working…");
  try {
    await action();
  } catch (caught) {
    const error =
      caught instanceof FlowError ? caught : new FlowError("unexpected_error", String(caught));
    if (log.entries.length > 0) log.fail(error);
    view.showError(error);
  }
  if (!leaving) view.showSession(session, signedOutText);
}

// A button's action, once the settings are loaded.
/** @param {() => unknown} action */
function act(action) {
  return run(() => {
    settings();
    return action();
  });
}

async function start() {
  view.showMode(selectedMode());
  view.bindControls(
    {
      onLogin: () => act(login),
      onLoginPopup: () => act(loginWithPopup),
      onRefreshTokensChange: selectRefreshTokens,
      onLogout: () => act(logout),
      onRenew: () => act(() => renewSilently("you pressed the button")),
      onModeChange: selectMode,
      onCallApi: (endpoint) => act(() => callEndpoint(endpoint)),
    },
    ENDPOINTS,
  );
  const landedAt = new URL(window.location.href);
  const fragment = new URLSearchParams(landedAt.hash.slice(1));
  const isCallback =
    landedAt.pathname === "/callback" &&
    (isAuthorizationResponse(landedAt.searchParams) || isAuthorizationResponse(fragment));
  // Before anything else: the response (for the implicit grant, the tokens) leaves the address
  // bar and the history entry, so it cannot be bookmarked, shared or read back later, and the
  // pending request leaves sessionStorage, so it can be answered once only.
  const pending = isCallback ? takePending() : null;
  const isLogoutReturn = isLogoutResponse(landedAt);
  const logoutState = takeLogoutState();
  const loggedOut = takeLogoutNarration();
  if (isCallback || isLogoutReturn) window.history.replaceState(null, "", "/");
  await run(async () => {
    loadedSettings = await loadSettings();
    if (isCallback) return handleCallback(landedAt, pending);
    if (isLogoutReturn || loggedOut !== null) finishLogout(landedAt, loggedOut, logoutState);
    if (sdkSelected()) await loadSdk();
    return restoreSession(loggedOut === null);
  });
  view.markReady();
}

start();

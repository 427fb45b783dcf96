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
  saveLogoutState,
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

const log = new StepLog(view.showSteps);
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
  const authenticated = silent
    ? "prompt=none: the issuer recognised its session cookie; no page was shown"
    : "The user signed in on the issuer's login page; this app never sees the password";
  const arrival = [
    ...describeResponse(landedAt, response),
    silent
      ? "Read from the hidden iframe, which is then removed"
      : "Removed from the address bar at once with history.replaceState",
  ];
  // The implicit grant's article gives the user's authentication a step of its own; the PKCE
  // steps tell it with the response.
  if (hasStep(flow, "authentication")) {
    log.begin(flow, "authentication", [authenticated]);
    log.begin(flow, "response", arrival);
  } else {
    log.begin(flow, "response", [authenticated, ...arrival]);
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

/** @param {string} reason */
async function renewSilently(reason) {
  if (sdkSelected()) {
    startSdkSession(await sdk.getTokenSilently(settings(), reason, true));
    return;
  }
  const current = settings();
  const flow = selectedFlow();
  log.note(`Silent re-authentication: ${reason}`);
  const { params, pending, notes } = await flow.prepare();
  const url = authorizationUrl(current, { ...params, prompt: "none" });
  log.begin(
    flow,
    "request",
    describeRequest(url, [
      ...notes,
      `prompt=none, in a hidden iframe: no page is shown; ${flow.kept} stay in memory`,
    ]),
  );
  endSession();
  await finishAuthorization(
    flow,
    await loadInHiddenFrame(url.href, current.redirectUri),
    pending,
    true,
  );
}

// On a plain page load the tokens are gone (memory only): get them back if the session lives.
async function restoreSession() {
  try {
    if (sdkSelected()) {
      const restored = await sdk.restore(settings());
      if (restored !== null) startSdkSession(restored);
    } else {
      await renewSilently("the page was loaded and tokens are kept in memory only");
    }
  } catch (error) {
    if (!(error instanceof FlowError) || error.code !== "login_required") throw error;
    log.fail(error);
    log.note("No session at the authorization server: log in to get tokens.");
  }
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
  if (sending !== null) log.begin(sending.flow, "api_call", [requestLine]);
  else log.note(`Called ${endpoint.path} without an access token`, [requestLine]);
  let result;
  try {
    result = await callApi(apiUrl, endpoint, token, body, requestTimeoutMs);
  } catch (error) {
    // No answer (or not JSON): shown where the answer would be; run() narrates the failure.
    if (error instanceof FlowError) {
      view.showApiResult(requestLine, {
        status: 0,
        statusText: error.code,
        wwwAuthenticate: null,
        body: error.description,
      });
    }
    throw error;
  }
  view.showApiResult(requestLine, result);
  const challenge = result.wwwAuthenticate ? `, WWW-Authenticate: ${result.wwwAuthenticate}` : "";
  log.add(`→ ${result.status} ${result.statusText}${challenge}`);
}

async function logout() {
  if (sdkSelected()) {
    endSession();
    leaving = true;
    view.showBusy("Logging out at the authorization server…");
    try {
      await sdk.logout(settings());
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
  log.note(
    "Log out: tokens dropped from memory; now the issuer ends its session too, or silent authentication would sign the user straight back in",
    describeRequest(new URL(url)),
  );
  leaving = true;
  view.showBusy("Logging out at the authorization server…");
  window.location.assign(url);
}

// Back from the issuer's end_session_endpoint: nothing to do but check it is our logout's answer.
/**
 * @param {URL} landedAt
 * @param {string | null} expectedState
 */
function finishLogout(landedAt, expectedState) {
  log.note(
    "Back from the issuer's logout endpoint",
    describeResponse(landedAt, landedAt.searchParams),
  );
  checkLogoutResponse(landedAt.searchParams, expectedState);
  log.add("✓ state matches the value this app sent with the logout request");
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
  if (!leaving) view.showSession(session);
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
  if (isCallback || isLogoutReturn) window.history.replaceState(null, "", "/");
  await run(async () => {
    loadedSettings = await loadSettings();
    if (isCallback) return handleCallback(landedAt, pending);
    if (isLogoutReturn) finishLogout(landedAt, logoutState);
    if (sdkSelected()) await loadSdk();
    return restoreSession();
  });
  view.markReady();
}

start();

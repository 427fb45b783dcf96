// The page's controller: starts flows, finishes them when the browser comes back, keeps the
// tokens in memory, renews them silently, calls the API, and narrates every step.

import { ENDPOINTS, callApi } from "./api_client.js";
import { authorizationUrl, checkAuthorizationResponse, isAuthorizationResponse, newState, savePending, takePending } from "./authorization.js";
import { codePkce } from "./code_pkce.js";
import { FlowError } from "./errors.js";
import { implicitGrant } from "./implicit_grant.js";
import { checkLogoutResponse, isLogoutResponse, logoutUrl, saveLogoutState, takeLogoutState } from "./logout.js";
import { loadSettings } from "./settings.js";
import { loadInHiddenFrame } from "./silent_auth.js";
import { StepLog } from "./steps.js";
import { shorten } from "./tokens.js";
import * as view from "./view.js";

const FLOWS = { [codePkce.id]: codePkce, [implicitGrant.id]: implicitGrant };
const MODE_KEY = "flowlab.mode";
const RENEW_SECONDS_BEFORE_EXPIRY = 30;
const CREDENTIAL_PARAMETERS = new Set(["access_token", "id_token", "code", "id_token_hint"]);

const log = new StepLog(view.showSteps);
let settings = null;
// The tokens: in this variable only. Not in localStorage or sessionStorage (any script of this
// origin could read them there, and they would outlive the tab), not in a cookie.
let session = null;
let renewalTimer = null;
// Set when the page is about to navigate away (login, logout): nothing left to render.
let leaving = false;

function selectedFlow() {
  return FLOWS[sessionStorage.getItem(MODE_KEY)] ?? codePkce;
}

function describeParameters(parameters) {
  return [...parameters].map(([name, value]) => `  ${name} = ${CREDENTIAL_PARAMETERS.has(name) ? shorten(value) : value}`);
}

function describeRequest(url, notes = []) {
  return [`GET ${url.origin}${url.pathname}`, ...describeParameters(url.searchParams), ...notes.map((note) => `ℹ ${note}`)];
}

function describeResponse(url, parameters) {
  const separator = parameters === url.searchParams ? "?" : "#";
  return [`Back at ${url.origin}${url.pathname}${separator}…`, ...describeParameters(parameters)];
}

function startSession(flow, tokens) {
  session = { flow, ...tokens, expiresAt: Date.now() + tokens.expiresIn * 1000 };
  const renewAfter = Math.max(tokens.expiresIn - RENEW_SECONDS_BEFORE_EXPIRY, tokens.expiresIn / 2);
  clearTimeout(renewalTimer);
  renewalTimer = setTimeout(() => run(() => renewSilently("the access token is about to expire")), renewAfter * 1000);
  log.add(`Tokens kept in memory only; the access token expires in ${tokens.expiresIn} s, silent renewal in ${Math.round(renewAfter)} s`);
}

function endSession() {
  clearTimeout(renewalTimer);
  session = null;
}

// Steps 2-3 (implicit) or 2-4 (code + PKCE): the response, from the address bar or the iframe.
async function finishAuthorization(flow, landedAt, pending, silent) {
  const response = flow.responseParameters(landedAt);
  const authenticated = silent
    ? "prompt=none: the issuer recognised its session cookie; no page was shown"
    : "The user signed in on the issuer's login page; this app never sees the password";
  const arrival = [
    ...describeResponse(landedAt, response),
    silent ? "Read from the hidden iframe, which is then removed" : "Removed from the address bar at once with history.replaceState",
  ];
  if (flow.responseStep > 2) {
    log.begin(flow, 2, [authenticated]);
    log.begin(flow, flow.responseStep, arrival);
  } else {
    log.begin(flow, flow.responseStep, [authenticated, ...arrival]);
  }
  checkAuthorizationResponse(response, pending, settings);
  log.add("✓ state matches the value this app generated before sending the request");
  log.add(response.has("iss") ? `✓ iss = ${settings.issuer} (RFC 9207: the response comes from our issuer)` : "iss not sent: this issuer does not support RFC 9207");
  const tokens = await flow.complete(response, pending, settings, log);
  startSession(flow, tokens);
}

async function login() {
  const flow = selectedFlow();
  const { params, pending, notes } = await flow.prepare();
  const url = authorizationUrl(settings, params);
  const requestLines = describeRequest(url, [...notes, `${flow.kept} wait in sessionStorage (this tab only) for the response`]);
  log.begin(flow, 1, requestLines);
  savePending({ ...pending, requestLines });
  leaving = true;
  view.showBusy("Redirecting to the authorization server…");
  window.location.assign(url.href);
}

async function handleCallback(landedAt, pending) {
  const flow = FLOWS[pending?.flow] ?? selectedFlow();
  if (pending !== null) log.begin(flow, 1, pending.requestLines);
  await finishAuthorization(flow, landedAt, pending, false);
}

async function renewSilently(reason) {
  const flow = selectedFlow();
  log.note(`Silent re-authentication: ${reason}`);
  const { params, pending, notes } = await flow.prepare();
  const url = authorizationUrl(settings, { ...params, prompt: "none" });
  log.begin(flow, 1, describeRequest(url, [...notes, `prompt=none, in a hidden iframe: no page is shown; ${flow.kept} stay in memory`]));
  endSession();
  await finishAuthorization(flow, await loadInHiddenFrame(url.href, settings.redirectUri), pending, true);
}

// On a plain page load the tokens are gone (memory only): get them back if the session lives.
async function restoreSession() {
  try {
    await renewSilently("the page was loaded and tokens are kept in memory only");
  } catch (error) {
    if (error.code !== "login_required") throw error;
    log.fail(error);
    log.note("No session at the authorization server: log in to get tokens.");
  }
}

async function callEndpoint(endpoint) {
  if (endpoint.sendsToken && session !== null && Date.now() >= session.expiresAt) {
    await renewSilently("the access token has expired");
  }
  const token = endpoint.sendsToken ? session?.accessToken : undefined;
  const body = endpoint.method === "POST" ? { text: view.messageText() } : undefined;
  const requestLine = [
    `${endpoint.method} ${settings.apiUrl}${endpoint.path}`,
    token ? `Authorization: Bearer ${shorten(token)}` : "no Authorization header",
    body === undefined ? "" : `body ${JSON.stringify(body)}`,
  ].filter(Boolean).join("  ·  ");
  const result = await callApi(settings.apiUrl, endpoint, token, body);
  view.showApiResult(requestLine, result);
  const outcome = [requestLine, `→ ${result.status} ${result.statusText}${result.wwwAuthenticate ? `, WWW-Authenticate: ${result.wwwAuthenticate}` : ""}`];
  if (token) log.begin(session.flow, session.flow.apiStep, outcome);
  else log.note(`Called ${endpoint.path} without an access token`, outcome);
}

function logout() {
  const state = newState();
  const url = logoutUrl(settings, session?.idToken, state);
  endSession();
  takePending();
  saveLogoutState(state);
  log.note("Log out: tokens dropped from memory; now the issuer ends its session too, or silent authentication would sign the user straight back in", describeRequest(new URL(url)));
  leaving = true;
  view.showBusy("Logging out at the authorization server…");
  window.location.assign(url);
}

// Back from the issuer's end_session_endpoint: nothing to do but check it is our logout's answer.
function finishLogout(landedAt, expectedState) {
  log.note("Back from the issuer's logout endpoint", describeResponse(landedAt, landedAt.searchParams));
  checkLogoutResponse(landedAt.searchParams, expectedState);
  log.add("✓ state matches the value this app sent with the logout request");
}

function selectMode(id) {
  sessionStorage.setItem(MODE_KEY, id);
  view.showMode(FLOWS[id]);
  log.note(`Flow switched to the ${FLOWS[id].name}: used by the next login or renewal.`);
}

// Runs one user action or flow; any failure is shown and narrated, and leaves no token behind
// unless the session was already established before the action.
async function run(action) {
  view.showError(null);
  view.showBusy("Working…");
  try {
    await action();
  } catch (caught) {
    const error = caught instanceof FlowError ? caught : new FlowError("unexpected_error", String(caught));
    if (log.entries.length > 0) log.fail(error);
    view.showError(error);
  }
  if (!leaving) view.showSession(session);
}

// A button's action, once the settings are loaded.
function act(action) {
  return run(() => {
    if (settings === null) throw new FlowError("not_ready", "The settings or the issuer's discovery document could not be loaded: reload the page once the issuer is reachable.");
    return action();
  });
}

async function start() {
  view.showMode(selectedFlow());
  view.bindControls(
    {
      onLogin: () => act(login),
      onLogout: () => act(logout),
      onRenew: () => act(() => renewSilently("you pressed the button")),
      onModeChange: selectMode,
      onCallApi: (endpoint) => act(() => callEndpoint(endpoint)),
    },
    ENDPOINTS,
  );
  const landedAt = new URL(window.location.href);
  const fragment = new URLSearchParams(landedAt.hash.slice(1));
  const isCallback = landedAt.pathname === "/callback" && (isAuthorizationResponse(landedAt.searchParams) || isAuthorizationResponse(fragment));
  // Before anything else: the response (for the implicit grant, the tokens) leaves the address
  // bar and the history entry, so it cannot be bookmarked, shared or read back later, and the
  // pending request leaves sessionStorage, so it can be answered once only.
  const pending = isCallback ? takePending() : null;
  const isLogoutReturn = isLogoutResponse(landedAt);
  const logoutState = takeLogoutState();
  if (isCallback || isLogoutReturn) window.history.replaceState(null, "", "/");
  await run(async () => {
    settings = await loadSettings();
    if (isCallback) return handleCallback(landedAt, pending);
    if (isLogoutReturn) finishLogout(landedAt, logoutState);
    return restoreSession();
  });
  view.markReady();
}

start();

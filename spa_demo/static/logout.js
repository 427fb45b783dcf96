// @ts-check
// Logging out of the issuer as well as the app. Dropping the tokens from memory is not enough:
// the issuer's session cookie would sign the user straight back in (silent authentication).

import { FlowError } from "./errors.js";

const STATE_KEY = "flowlab.pending_logout";
const NARRATION_KEY = "flowlab.logout_request";

/** @typedef {import("./settings.js").Settings} Settings */

/**
 * @param {Pick<Settings, "issuer" | "clientId" | "returnTo"> & { metadata: Pick<Settings["metadata"], "end_session_endpoint"> }} settings
 * @param {string | undefined} idToken
 * @param {string} state
 */
export function logoutUrl(settings, idToken, state) {
  const endpoint = settings.metadata.end_session_endpoint;
  if (endpoint) {
    // OpenID Connect RP-Initiated Logout 1.0 §2, when the discovery document names the endpoint.
    // The ID token tells the issuer who asks: with it the issuer logs out at once, without it
    // the issuer asks the user first (a logout link on any page must not end their session).
    const url = new URL(endpoint);
    url.searchParams.set("client_id", settings.clientId);
    url.searchParams.set("post_logout_redirect_uri", settings.returnTo);
    if (idToken) url.searchParams.set("id_token_hint", idToken);
    url.searchParams.set("state", state);
    return url.href;
  }
  // Auth0's /v2/logout: it ends the session and redirects to `returnTo` if that URL is one of
  // the application's "Allowed Logout URLs". It has no `state`.
  const url = new URL("v2/logout", settings.issuer);
  url.searchParams.set("client_id", settings.clientId);
  url.searchParams.set("returnTo", settings.returnTo);
  return url.href;
}

// The state waits in sessionStorage (this tab only) for the redirect back, like a login's.
/** @param {string} state */
export function saveLogoutState(state) {
  sessionStorage.setItem(STATE_KEY, state);
}

// Single use: read and removed at once.
export function takeLogoutState() {
  const state = sessionStorage.getItem(STATE_KEY);
  sessionStorage.removeItem(STATE_KEY);
  return state;
}

/**
 * The logout request as the steps panel told it: its endpoint and the lines narrated.
 *
 * @typedef {{ path: string, lines: string[] }} LogoutNarration
 */

// Told again after the redirect back (the page is loaded anew at returnTo). No credential in
// it: the lines show the ID token hint shortened.
/** @param {LogoutNarration} narration */
export function saveLogoutNarration(narration) {
  sessionStorage.setItem(NARRATION_KEY, JSON.stringify(narration));
}

/** @returns {LogoutNarration | null} */
export function takeLogoutNarration() {
  const saved = sessionStorage.getItem(NARRATION_KEY);
  sessionStorage.removeItem(NARRATION_KEY);
  return saved === null ? null : JSON.parse(saved);
}

// The issuer's redirect back to post_logout_redirect_uri (this page, "/") with the state.
/** @param {URL} url */
export function isLogoutResponse(url) {
  return url.pathname === "/" && url.searchParams.has("state");
}

// Returns nothing; throws FlowError for a logout response this app did not ask for.
/**
 * @param {URLSearchParams} parameters
 * @param {string | null} expectedState
 */
export function checkLogoutResponse(parameters, expectedState) {
  // RP-Initiated Logout §2, state: "Opaque value used by the RP to maintain state between the
  // logout request and the callback to the endpoint specified by the post_logout_redirect_uri".
  if (parameters.get("state") !== expectedState) {
    throw new FlowError(
      "state_mismatch",
      "This page was sent back from a logout it did not start (the state is not the one this app sent): ignored.",
    );
  }
}

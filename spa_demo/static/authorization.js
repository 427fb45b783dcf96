// The authorization request and response both flows share (RFC 6749 §4.1 and §4.2), and the
// one piece of state that must survive the redirect to the issuer and back.

import { randomValue } from "./base64url.js";
import { FlowError } from "./errors.js";

const PENDING_KEY = "flowlab.pending_authorization";

export function newState() {
  return randomValue();
}

export function authorizationUrl(settings, params) {
  const url = new URL(settings.metadata.authorization_endpoint);
  const all = {
    client_id: settings.clientId,
    redirect_uri: settings.redirectUri,
    scope: settings.scope,
    // Auth0 names the API the access token is for with `audience`.
    audience: settings.audience,
    ...params,
  };
  for (const [name, value] of Object.entries(all)) url.searchParams.set(name, value);
  return url;
}

// sessionStorage: this tab only, gone when the tab closes, never sent to any server. It holds
// state, nonce and the PKCE verifier across the redirect, never a token.
export function savePending(pending) {
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
}

// Single use: read and removed at once, whatever the response turns out to be.
export function takePending() {
  const saved = sessionStorage.getItem(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  return saved === null ? null : JSON.parse(saved);
}

export function isAuthorizationResponse(parameters) {
  return ["state", "code", "access_token", "id_token", "error"].some((name) => parameters.has(name));
}

// Returns nothing; throws FlowError for a response this app must not accept.
export function checkAuthorizationResponse(response, pending, settings) {
  if (pending === null) {
    throw new FlowError("no_pending_request", "This page received an authorization response it did not ask for: ignored, nothing kept.");
  }
  // RFC 6749 §10.12: the client "MUST implement CSRF protection for its redirection URI", by
  // checking that `state` is the value it bound to this browser before the redirect.
  if (response.get("state") !== pending.state) {
    throw new FlowError("state_mismatch", "The state in the response is not the one this app sent: refused (possible CSRF or login injection). No token was kept.");
  }
  // RFC 9207 §2.4: clients "MUST check that the parameter value is equal to the issuer" and, when
  // the server's metadata says it sends `iss`, "MUST reject authorization responses without" it.
  const iss = response.get("iss");
  const issRequired = settings.metadata.authorization_response_iss_parameter_supported === true;
  if (iss === null ? issRequired : iss !== settings.issuer) {
    throw new FlowError("issuer_mismatch", `The response's iss is ${JSON.stringify(iss)}, not our issuer ${settings.issuer}: refused (possible mix-up attack).`);
  }
  if (response.has("error")) {
    throw new FlowError(response.get("error"), response.get("error_description") || "The authorization server refused the request.");
  }
}

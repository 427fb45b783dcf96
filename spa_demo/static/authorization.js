// @ts-check
// The authorization request and response both flows share (RFC 6749 §4.1 and §4.2), and the
// one piece of state that must survive the redirect to the issuer and back.

import { randomValue } from "./base64url.js";
import { FlowError } from "./errors.js";

/** @typedef {import("./settings.js").Settings} Settings */
/** @typedef {import("./steps.js").Step} Step */
/** @typedef {import("./steps.js").StepLog} StepLog */
/** @typedef {import("./tokens.js").Tokens} Tokens */

/**
 * What this app keeps between the authorization request and its response.
 *
 * @typedef {object} Pending
 * @property {string} flow The id of the flow that sent the request.
 * @property {string} state
 * @property {string} nonce
 * @property {string} [codeVerifier] PKCE only.
 * @property {string[]} [requestLines] The request as narrated, to narrate it again after the
 *   redirect.
 */

/**
 * A prepared authorization request: its parameters, what to keep, what to tell the learner.
 *
 * @typedef {object} PreparedRequest
 * @property {Record<string, string>} params
 * @property {Pending} pending
 * @property {string[]} notes
 */

/**
 * One of the page's flows (code_pkce.js, implicit_grant.js).
 *
 * @typedef {object} Flow
 * @property {"code" | "implicit"} id
 * @property {string} name
 * @property {Step[]} steps The article's numbered steps, each named by what happens in it.
 * @property {string} kept What the app must remember between the request and the response.
 * @property {() => Promise<PreparedRequest>} prepare
 * @property {(url: URL) => URLSearchParams} responseParameters Where the response is in the URL
 *   the browser lands on.
 * @property {(response: URLSearchParams, pending: Pending, settings: Settings, log: StepLog) => Promise<Tokens>} complete
 *   From a checked authorization response to validated tokens.
 */

const PENDING_KEY = "flowlab.pending_authorization";

export function newState() {
  return randomValue();
}

/**
 * @param {Settings} settings
 * @param {Record<string, string>} params
 */
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
/** @param {Pending} pending */
export function savePending(pending) {
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
}

// Single use: read and removed at once, whatever the response turns out to be.
/** @returns {Pending | null} */
export function takePending() {
  const saved = sessionStorage.getItem(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  return saved === null ? null : JSON.parse(saved);
}

/** @param {URLSearchParams} parameters */
export function isAuthorizationResponse(parameters) {
  return ["state", "code", "access_token", "id_token", "error"].some((name) =>
    parameters.has(name),
  );
}

// Returns nothing; throws FlowError for a response this app must not accept.
/**
 * @param {URLSearchParams} response
 * @param {Pending | null} pending
 * @param {Pick<Settings, "issuer"> & { metadata: Pick<Settings["metadata"], "authorization_response_iss_parameter_supported"> }} settings
 * @returns {asserts pending is Pending}
 */
export function checkAuthorizationResponse(response, pending, settings) {
  if (pending === null) {
    throw new FlowError(
      "no_pending_request",
      "This page received an authorization response it did not ask for: ignored, nothing kept.",
    );
  }
  // RFC 6749 §10.12: the client "MUST implement CSRF protection for its redirection URI", by
  // checking that `state` is the value it bound to this browser before the redirect.
  if (response.get("state") !== pending.state) {
    throw new FlowError(
      "state_mismatch",
      "The state in the response is not the one this app sent: refused (possible CSRF or login injection). No token was kept.",
    );
  }
  // RFC 9207 §2.4: clients "MUST check that the parameter value is equal to the issuer" and, when
  // the server's metadata says it sends `iss`, "MUST reject authorization responses without" it.
  const iss = response.get("iss");
  const issRequired = settings.metadata.authorization_response_iss_parameter_supported === true;
  if (iss === null ? issRequired : iss !== settings.issuer) {
    throw new FlowError(
      "issuer_mismatch",
      `The response's iss is ${JSON.stringify(iss)}, not our issuer ${settings.issuer}: refused (possible mix-up attack).`,
    );
  }
  const error = response.get("error");
  if (error !== null) {
    throw new FlowError(
      error,
      response.get("error_description") || "The authorization server refused the request.",
    );
  }
}

// @ts-check
// What the page needs to know before it can start a flow: its own settings (from the SPA server,
// /config.json) and the issuer's endpoints (from its discovery document, never hard-coded).

import { FlowError } from "./errors.js";
import { REQUEST_TIMEOUT_MS, request } from "./http.js";
import { KeySet } from "./jwt.js";

/**
 * This app's settings as /config.json serves them: public values only.
 *
 * @typedef {object} AppConfig
 * @property {string} issuer
 * @property {string} audience
 * @property {string} clientId
 * @property {string} apiUrl
 * @property {string} scope
 * @property {number} [requestTimeoutMs] How long a request may take (REQUEST_TIMEOUT_MS when
 *   absent): the SPA server does not send it; the end-to-end tests add it, to see a hung
 *   issuer's timeout without waiting for it.
 */

/**
 * What the page reads from the issuer's discovery document (OpenID Connect Discovery 1.0 §3).
 *
 * @typedef {object} IssuerMetadata
 * @property {string} issuer
 * @property {string} authorization_endpoint
 * @property {string} token_endpoint
 * @property {string} jwks_uri
 * @property {string} [end_session_endpoint]
 * @property {boolean} [authorization_response_iss_parameter_supported]
 */

/**
 * Everything a flow needs: this app's settings, the issuer's endpoints and keys, and the
 * addresses of this page.
 *
 * @typedef {object} SettingsExtras
 * @property {IssuerMetadata} metadata
 * @property {KeySet} keySet
 * @property {number} requestTimeoutMs
 * @property {string} origin
 * @property {string} redirectUri
 * @property {string} returnTo
 *
 * @typedef {AppConfig & SettingsExtras} Settings
 */

// OpenID Connect Discovery 1.0 §4: the issuer with any trailing "/" removed, plus the well-known path.
/** @param {string} issuer */
export function discoveryUrl(issuer) {
  return `${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
}

/** @returns {Promise<Settings>} */
export async function loadSettings() {
  const config = /** @type {AppConfig} */ (
    (await request("/config.json", { what: "this app's settings" })).body
  );
  const { requestTimeoutMs: configured } = config;
  const requestTimeoutMs =
    typeof configured === "number" && configured > 0 ? configured : REQUEST_TIMEOUT_MS;
  const metadata = /** @type {IssuerMetadata} */ (
    (
      await request(discoveryUrl(config.issuer), {
        what: "the issuer's discovery document",
        timeoutMs: requestTimeoutMs,
      })
    ).body
  );
  // Discovery §4.3: "The issuer value returned MUST be identical to the Issuer URL that was used
  // as the prefix to /.well-known/openid-configuration to retrieve the configuration information."
  if (metadata.issuer !== config.issuer) {
    throw new FlowError(
      "invalid_issuer",
      `The discovery document names the issuer ${JSON.stringify(metadata.issuer)}, not ${JSON.stringify(config.issuer)}.`,
    );
  }
  return {
    ...config,
    metadata,
    keySet: new KeySet(metadata.jwks_uri, { timeoutMs: requestTimeoutMs }),
    requestTimeoutMs,
    origin: window.location.origin,
    redirectUri: `${window.location.origin}/callback`,
    returnTo: `${window.location.origin}/`,
  };
}

// @ts-check
// The token response fields both flows check the same way (RFC 6749 §4.2.2 and §5.1), and the
// ID token that comes with them.

import { FlowError } from "./errors.js";
import { validateIdToken } from "./id_token.js";

/** @typedef {import("./authorization.js").Pending} Pending */
/** @typedef {import("./id_token.js").IdClaims} IdClaims */
/** @typedef {import("./settings.js").Settings} Settings */

/**
 * The token response's fields as they came: from the token endpoint's JSON (code + PKCE) or
 * the URL fragment (implicit grant), so every one is unchecked.
 *
 * @typedef {object} TokenResponse
 * @property {unknown} [access_token]
 * @property {unknown} [id_token]
 * @property {unknown} [token_type]
 * @property {unknown} [expires_in]
 * @property {unknown} [scope]
 */

/**
 * A token response that passed checkTokenResponse.
 *
 * @typedef {object} CheckedTokens
 * @property {string} accessToken
 * @property {string} idToken
 * @property {number} expiresIn Seconds.
 */

/**
 * What a flow ends with: the checked tokens, the ID token's claims, the scope granted.
 *
 * @typedef {CheckedTokens & { idClaims: IdClaims, scope: string | null }} Tokens
 */

/**
 * The part of the steps log the flows write to.
 *
 * @typedef {{ add(line: string): void }} LogLines
 */

/**
 * @param {TokenResponse} response
 * @returns {CheckedTokens}
 */
export function checkTokenResponse({ access_token, id_token, token_type, expires_in }) {
  if (
    typeof access_token !== "string" ||
    !access_token ||
    typeof id_token !== "string" ||
    !id_token
  ) {
    throw new FlowError("invalid_response", "The response lacks the access token or the ID token.");
  }
  // RFC 6750: the only token type this app knows how to send is a Bearer token.
  if (String(token_type).toLowerCase() !== "bearer") {
    throw new FlowError(
      "invalid_response",
      `token_type is ${JSON.stringify(token_type)}, not Bearer.`,
    );
  }
  const expiresIn = Number(expires_in);
  if (!Number.isInteger(expiresIn) || expiresIn <= 0) {
    throw new FlowError(
      "invalid_response",
      "expires_in is missing or not a positive number of seconds.",
    );
  }
  return { accessToken: access_token, idToken: id_token, expiresIn };
}

// Both flows end alike: the token response checked, then its ID token validated against the
// nonce kept before the redirect. `bindsAccessToken`: the ID token came beside the access token
// from the authorization endpoint (implicit grant), so its at_hash must match that token.
/**
 * @param {TokenResponse} fields
 * @param {Pending} pending
 * @param {Pick<Settings, "issuer" | "clientId" | "keySet">} settings
 * @param {LogLines} log
 * @param {{ bindsAccessToken?: boolean }} [options]
 * @returns {Promise<Tokens>}
 */
export async function acceptTokenResponse(
  fields,
  pending,
  settings,
  log,
  { bindsAccessToken = false } = {},
) {
  const tokens = checkTokenResponse(fields);
  log.add(`✓ token_type Bearer, expires_in ${tokens.expiresIn} s`);
  const idClaims = await validateIdToken(tokens.idToken, {
    issuer: settings.issuer,
    clientId: settings.clientId,
    nonce: pending.nonce,
    keySet: settings.keySet,
    accessToken: bindsAccessToken ? tokens.accessToken : undefined,
  });
  log.add(
    "✓ ID token: RS256 signature with the issuer's key, not an access token, iss, aud = our client id (azp too), exp, iat",
  );
  log.add("✓ ID token nonce = the one saved before the redirect (no replayed token)");
  if (bindsAccessToken)
    log.add("✓ ID token at_hash = hash of the access token (the two tokens belong together)");
  return { ...tokens, idClaims, scope: typeof fields.scope === "string" ? fields.scope : null };
}

// Enough of a token to recognise it in the steps panel, never the whole of it.
/** @param {string} token */
export function shorten(token) {
  return token.length > 16 ? `${token.slice(0, 12)}…(${token.length} chars)` : token;
}

// @ts-check
// ID token validation, OpenID Connect Core 1.0 §3.1.3.7 (code flow) and §3.2.2.11 (implicit),
// by the same rules as the API's validator (shared/token_validation.py, validate_id_token),
// plus at_hash for the implicit grant. Each check quotes the sentence it enforces.

import { FlowError } from "./errors.js";
import { accessTokenHash, decodeJwt, mediaType, verifySignature } from "./jwt.js";

/** @typedef {import("./http.js").JsonObject} JsonObject */
/** @typedef {import("./jwt.js").KeySet} KeySet */

// Seconds of clock skew tolerated on exp, iat and nbf (the API's validator: leeway=30).
export const CLOCK_LEEWAY_SECONDS = 30;
// RFC 8259 §6: integers "in the range [-(2**53)+1, (2**53)-1] are interoperable".
export const MAX_NUMERIC_DATE = 2 ** 53 - 1;

/**
 * The claims of a validated ID token: those checked below, and the profile the page shows.
 *
 * @typedef {object} IdClaims
 * @property {string} iss
 * @property {string} sub
 * @property {string | string[]} aud
 * @property {number} exp
 * @property {number} iat
 * @property {string} [azp]
 * @property {string} [nonce]
 * @property {string} [at_hash]
 * @property {string} [name]
 * @property {string} [email]
 * @property {boolean} [email_verified]
 */

/**
 * What the ID token must match.
 *
 * @typedef {object} IdTokenExpectations
 * @property {string} issuer
 * @property {string} clientId Our client id: the ID token's audience.
 * @property {string} nonce The nonce sent in the authentication request.
 * @property {KeySet} keySet The issuer's keys.
 * @property {string} [accessToken] Given when the ID token came beside an access token from
 *   the authorization endpoint (implicit grant): its at_hash must match it.
 */

/**
 * @param {string} description
 * @returns {never}
 */
function refuse(description) {
  throw new FlowError("invalid_id_token", description);
}

// A claim's value as the learner reads it in a refusal, cut short.
/** @param {unknown} value */
function show(value) {
  const text = typeof value === "number" ? String(value) : (JSON.stringify(value) ?? "missing");
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

// RFC 7519 §2: NumericDate is "A JSON numeric value representing the number of seconds from
// 1970-01-01T00:00:00Z UTC until the specified UTC date/time, ignoring leap seconds."
// RFC 8259 §6: "This specification allows implementations to set limits on the range and
// precision of numbers accepted". Local policy, the API's: a date is an integer or a fraction
// from 0 to 2**53 - 1 seconds; a string, a boolean, a negative number or one past 2**53 - 1
// (a JSON 1e400 arrives as Infinity) is no date.
/**
 * @param {JsonObject} claims
 * @param {string} name
 * @param {string} [consequence]
 */
function numericDate(claims, name, consequence = "refused") {
  const value = claims[name];
  if (typeof value !== "number" || !(value >= 0 && value <= MAX_NUMERIC_DATE)) {
    refuse(
      `${name} is ${show(value)}, not a NumericDate (0 to 2**53 - 1 seconds): ${consequence}.`,
    );
  }
  return value;
}

// RFC 7519 §4.1.3: "In the general case, the "aud" value is an array of case-sensitive
// strings, each containing a StringOrURI value. In the special case when the JWT has one
// audience, the "aud" value MAY be a single case-sensitive string".
/** @param {unknown} aud */
function audiences(aud) {
  const list = typeof aud === "string" ? [aud] : aud;
  if (!Array.isArray(list) || !list.every((value) => typeof value === "string")) {
    refuse(`aud ${show(aud)} is neither a string nor an array of strings.`);
  }
  return list;
}

/**
 * Returns the verified claims, or throws FlowError naming the first check that failed.
 *
 * @param {string} idToken
 * @param {IdTokenExpectations} expected
 * @returns {Promise<IdClaims>}
 */
export async function validateIdToken(idToken, { issuer, clientId, nonce, keySet, accessToken }) {
  const decoded = decodeJwt(idToken);
  const claims = decoded.payload;
  const now = Date.now() / 1000;

  // §3.1.3.7 (6): "The Client MUST validate the signature of all other ID Tokens according to
  // JWS using the algorithm specified in the JWT alg Header Parameter." (RS256 only, and the
  // header checks of the API's validator: see jwt.js)
  await verifySignature(decoded, keySet);

  // RFC 8725 §3.12: "If more than one kind of JWT can be issued by the same issuer, the
  // validation rules for those JWTs MUST be written such that they are mutually exclusive,
  // rejecting JWTs of the wrong kind." An access token (RFC 9068 §2.1: typ "at+jwt") is never
  // an ID token.
  const { typ } = decoded.header;
  if (typeof typ === "string" && mediaType(typ) === "application/at+jwt") {
    refuse(`typ is ${show(typ)}: an access token (at+jwt) is not an ID token.`);
  }

  // §3.1.3.7 (9): "The current time MUST be before the time represented by the exp Claim."
  if (now - CLOCK_LEEWAY_SECONDS >= numericDate(claims, "exp", "treated as expired")) {
    refuse("The ID token has expired.");
  }

  // §3.1.3.7 (10): "The iat Claim can be used to reject tokens that were issued too far away
  // from the current time".
  if (numericDate(claims, "iat") > now + CLOCK_LEEWAY_SECONDS) {
    refuse("The ID token is issued in the future.");
  }

  // RFC 7519 §4.1.5: "The "nbf" (not before) claim identifies the time before which the JWT
  // MUST NOT be accepted for processing."
  if (Object.hasOwn(claims, "nbf") && numericDate(claims, "nbf") > now + CLOCK_LEEWAY_SECONDS) {
    refuse("The ID token is not valid yet (nbf is in the future).");
  }

  // OpenID Connect Core §2: auth_time's "value is a JSON number representing the number of
  // seconds from 1970-01-01T00:00:00Z as measured in UTC until the date/time."
  if (Object.hasOwn(claims, "auth_time")) numericDate(claims, "auth_time");

  // §3.1.3.7 (2): "The Issuer Identifier for the OpenID Provider (which is typically obtained
  // during Discovery) MUST exactly match the value of the iss (issuer) Claim."
  if (claims.iss !== issuer) refuse(`iss is ${show(claims.iss)}, expected ${show(issuer)}.`);

  // §3.1.3.7 (3): "The Client MUST validate that the aud (audience) Claim contains its
  // client_id value registered at the Issuer identified by the iss (issuer) Claim as an
  // audience. ... The ID Token MUST be rejected if the ID Token does not list the Client as a
  // valid audience".
  const audience = audiences(claims.aud);
  if (!audience.includes(clientId)) {
    refuse(`aud ${show(claims.aud)} does not contain our client id ${clientId}.`);
  }

  // RFC 7519 §4.1.2: "The "sub" value is a case-sensitive string containing a StringOrURI
  // value." OpenID Connect Core §2: sub is REQUIRED.
  if (typeof claims.sub !== "string" || claims.sub === "") {
    refuse(`sub is ${show(claims.sub)}, not a non-empty string.`);
  }

  // OpenID Connect Core §2: azp and nonce are case-sensitive strings.
  for (const name of ["azp", "nonce"]) {
    if (Object.hasOwn(claims, name) && typeof claims[name] !== "string") {
      refuse(`${name} is ${show(claims[name])}, not a string.`);
    }
  }

  // §3.1.3.7 (4): "If the ID Token contains multiple audiences, the Client SHOULD verify that
  // an azp Claim is present."
  if (audience.length > 1 && !Object.hasOwn(claims, "azp")) {
    refuse(`aud ${show(claims.aud)} names several audiences and there is no azp.`);
  }

  // §3.1.3.7 (5): "If an azp (authorized party) Claim is present, the Client SHOULD verify that
  // its client_id is the Claim Value."
  if (Object.hasOwn(claims, "azp") && claims.azp !== clientId) {
    refuse(`azp is ${show(claims.azp)}, not our client id.`);
  }

  // §3.1.3.7 (11): "If a nonce value was sent in the Authentication Request, a nonce Claim
  // MUST be present and its value checked to verify that it is the same value as the one that
  // was sent in the Authentication Request."
  if (claims.nonce !== nonce) {
    refuse("The ID token's nonce is not the one this app sent: possible token replay.");
  }

  // Implicit flow, §3.2.2.9: "The value of at_hash in the ID Token MUST match the value
  // produced" from the access token, which binds the access token to this ID token.
  if (accessToken !== undefined && claims.at_hash !== (await accessTokenHash(accessToken))) {
    refuse("at_hash does not match the access token: the access token was swapped.");
  }
  return /** @type {IdClaims} */ (claims);
}

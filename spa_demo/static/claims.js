// @ts-check
// What each claim of the decoded tokens means, in one line, and the times they carry as dates:
// the tokens panel shows them beside the values, so a learner reads a token without the specs.

/** @typedef {"id" | "access"} TokenKind */

// JWT (RFC 7519 §2) "NumericDate": "the number of seconds from 1970-01-01T00:00:00Z UTC".
export const TIME_CLAIMS = new Set(["iat", "exp", "nbf", "auth_time", "updated_at"]);

/**
 * A moment as the page writes it everywhere: date and time, UTC.
 *
 * @param {number} milliseconds
 */
export function formatTime(milliseconds) {
  return `${new Date(milliseconds).toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/** @type {Record<string, string>} */
const COMMON = {
  iss: "Issuer: the authorization server that signed this token; must be exactly ours.",
  sub: "Subject: the user's id at the identity provider (auth0|…), stable for this user.",
  iat: "Issued at: when the authorization server made this token.",
  exp: "Expires: the token is refused from this moment on.",
  nbf: "Not before: the token is refused until this moment.",
  jti: "JWT id: this token's unique id (lets a server spot a replay).",
  azp: "Authorized party: the client id of the application the token was issued to.",
  auth_time:
    "When the user last typed their password at the issuer (not when this token was made).",
  nonce: "The random value this app sent in the request: proves the ID token answers that request.",
  at_hash:
    "Half of the SHA-256 of the access token: binds the ID token to the access token beside it.",
  c_hash: "Half of the SHA-256 of the code: binds the ID token to the code beside it.",
  sid: "The issuer's session id: what a logout from the issuer refers to.",
  name: "Profile claim (scope profile): the user's full name.",
  nickname: "Profile claim (scope profile): a casual name.",
  picture: "Profile claim (scope profile): the URL of the user's picture.",
  updated_at: "Profile claim (scope profile): when the profile last changed.",
  email: "Email claim (scope email): the user's address.",
  email_verified:
    "Email claim (scope email): whether the address was proven to belong to the user.",
  client_id: "RFC 9068: the application the token was issued to (Auth0 puts it in azp).",
  gty: "Grant type, Auth0's claim: client-credentials marks a machine's token, which acts for no user.",
};

/** @type {Record<TokenKind, Record<string, string>>} */
const BY_KIND = {
  id: {
    aud: "Audience: this app's client id. The ID token is for this app only; never send it to an API.",
  },
  access: {
    aud: "Audience: the API this token is for (Auth0's audience parameter).",
    scope:
      "What this application was granted: the scopes the user consented to, which the API checks.",
    permissions:
      "RBAC: what the user may do in this API, whichever application asks; scope is what this application may do.",
  },
};

// Auth0 adds its /userinfo endpoint as a second audience when the scope has openid.
const SECOND_AUDIENCE =
  "Audience: the API first; the second, /userinfo, is there because the scope has openid: the same token may fetch the user's profile.";

/**
 * One line on what `name` means in a token of this kind; an empty string for a claim this page
 * does not know.
 *
 * @param {string} name
 * @param {unknown} value
 * @param {TokenKind} kind
 */
export function explainClaim(name, value, kind) {
  if (kind === "access" && name === "aud" && Array.isArray(value) && value.length > 1) {
    return SECOND_AUDIENCE;
  }
  // Own entries only: a claim named "constructor" or "__proto__" is a claim, not Object's.
  const explained = BY_KIND[kind];
  if (Object.hasOwn(explained, name)) return explained[name];
  return Object.hasOwn(COMMON, name) ? COMMON[name] : "";
}

/**
 * The date beside a time claim's number; null for any other claim.
 *
 * @param {string} name
 * @param {unknown} value
 */
export function claimDate(name, value) {
  return TIME_CLAIMS.has(name) && typeof value === "number" ? formatTime(value * 1000) : null;
}

// The token response fields both flows check the same way (RFC 6749 §4.2.2 and §5.1).

import { FlowError } from "./errors.js";

export function checkTokenResponse({ access_token, id_token, token_type, expires_in }) {
  if (!access_token || !id_token) throw new FlowError("invalid_response", "The response lacks the access token or the ID token.");
  // RFC 6750: the only token type this app knows how to send is a Bearer token.
  if (String(token_type).toLowerCase() !== "bearer") throw new FlowError("invalid_response", `token_type is ${JSON.stringify(token_type)}, not Bearer.`);
  const expiresIn = Number(expires_in);
  if (!Number.isInteger(expiresIn) || expiresIn <= 0) throw new FlowError("invalid_response", "expires_in is missing or not a positive number of seconds.");
  return { accessToken: access_token, idToken: id_token, expiresIn };
}

// Enough of a token to recognise it in the steps panel, never the whole of it.
export function shorten(token) {
  return token.length > 16 ? `${token.slice(0, 12)}…(${token.length} chars)` : token;
}

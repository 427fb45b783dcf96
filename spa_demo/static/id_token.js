// ID token validation, OpenID Connect Core 1.0 §3.1.3.7 (code flow) and §3.2.2.11 (implicit).
// Each check quotes the sentence it enforces.

import { FlowError } from "./errors.js";
import { accessTokenHash, decodeJwt, verifySignature } from "./jwt.js";

export const CLOCK_LEEWAY_SECONDS = 30;

function refuse(description) {
  throw new FlowError("invalid_id_token", description);
}

// Returns the verified claims, or throws FlowError naming the first check that failed.
// `accessToken` is given when the ID token came with one from the authorization endpoint.
export async function validateIdToken(idToken, { issuer, clientId, nonce, keySet, accessToken }) {
  const decoded = decodeJwt(idToken);
  const claims = decoded.payload;
  const now = Math.floor(Date.now() / 1000);

  // "The Client MUST validate the signature of all other ID Tokens according to JWS using the
  // algorithm specified in the JWT alg Header Parameter." (RS256 only, see jwt.js)
  await verifySignature(decoded, keySet);

  // "The Issuer Identifier for the OpenID Provider MUST exactly match the value of the iss Claim."
  if (claims.iss !== issuer) refuse(`iss is ${JSON.stringify(claims.iss)}, expected ${JSON.stringify(issuer)}.`);

  // "The Client MUST validate that the aud Claim contains its client_id value ... The ID Token
  // MUST be rejected if the ID Token does not list the Client as a valid audience."
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.includes(clientId)) refuse(`aud ${JSON.stringify(claims.aud)} does not contain our client id ${clientId}.`);

  // "If an azp (authorized party) Claim is present, the Client SHOULD verify that its client_id
  // is the Claim Value."
  if (claims.azp !== undefined && claims.azp !== clientId) refuse(`azp is ${JSON.stringify(claims.azp)}, not our client id.`);

  // "The current time MUST be before the time represented by the exp Claim."
  if (!Number.isInteger(claims.exp) || claims.exp + CLOCK_LEEWAY_SECONDS <= now) refuse("The ID token has expired.");

  // "The iat Claim can be used to reject tokens that were issued too far away from the current time."
  if (!Number.isInteger(claims.iat) || claims.iat - CLOCK_LEEWAY_SECONDS > now) refuse("The ID token is issued in the future.");

  // "The value of the nonce Claim MUST be checked to verify that it is the same value as the one
  // that was sent in the Authentication Request."
  if (claims.nonce !== nonce) refuse("The ID token's nonce is not the one this app sent: possible token replay.");

  // Implicit flow, §3.2.2.9: "The value of at_hash in the ID Token MUST match the value produced"
  // from the access token, which binds the access token to this ID token.
  if (accessToken !== undefined && claims.at_hash !== (await accessTokenHash(accessToken))) {
    refuse("at_hash does not match the access token: the access token was swapped.");
  }
  return claims;
}

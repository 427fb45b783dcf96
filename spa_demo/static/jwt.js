// Reading and verifying JSON Web Tokens (RFC 7519) with the browser's WebCrypto, no library.

import * as base64url from "./base64url.js";
import { FlowError } from "./errors.js";

// The only algorithm accepted, from our configuration, never from the token's header.
export const ALGORITHM = "RS256";
const RSA_SHA256 = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };

export function decodeJwt(token) {
  const segments = typeof token === "string" ? token.split(".") : [];
  if (segments.length !== 3) throw new FlowError("invalid_token", "A JWT has three dot-separated parts.");
  try {
    return {
      header: JSON.parse(base64url.decodeText(segments[0])),
      payload: JSON.parse(base64url.decodeText(segments[1])),
      signingInput: `${segments[0]}.${segments[1]}`,
      signature: base64url.decode(segments[2]),
    };
  } catch {
    throw new FlowError("invalid_token", "The JWT's header or payload is not base64url-encoded JSON.");
  }
}

// The issuer's signing keys (its JWKS), fetched when first needed and again, once, when a token
// names a key id we have not seen (the issuer rotated its keys).
export class KeySet {
  constructor(jwksUri) {
    this.jwksUri = jwksUri;
    this.keys = null;
  }

  async fetchKeys() {
    const response = await fetch(this.jwksUri, { credentials: "omit", cache: "no-store" });
    const body = response.ok ? await response.json() : null;
    if (!Array.isArray(body?.keys)) throw new FlowError("jwks_unavailable", `The issuer's keys could not be read from ${this.jwksUri}.`);
    this.keys = body.keys;
  }

  signingKey(kid) {
    return this.keys?.find((key) => key.kid === kid && key.kty === "RSA" && (key.use ?? "sig") === "sig");
  }

  async keyFor(kid) {
    if (!this.signingKey(kid)) await this.fetchKeys();
    const jwk = this.signingKey(kid);
    if (!jwk) throw new FlowError("invalid_token", `No signing key with kid ${JSON.stringify(kid)} in the issuer's JWKS.`);
    return crypto.subtle.importKey("jwk", { kty: "RSA", n: jwk.n, e: jwk.e, alg: ALGORITHM, ext: true }, RSA_SHA256, false, ["verify"]);
  }
}

export async function verifySignature(decoded, keySet) {
  if (decoded.header.alg !== ALGORITHM) {
    throw new FlowError("invalid_token", `The token is signed with ${JSON.stringify(decoded.header.alg)}; only ${ALGORITHM} is accepted.`);
  }
  const key = await keySet.keyFor(decoded.header.kid);
  const valid = await crypto.subtle.verify(RSA_SHA256, key, decoded.signature, new TextEncoder().encode(decoded.signingInput));
  if (!valid) throw new FlowError("invalid_token", "The token's signature does not verify with the issuer's key.");
}

// OpenID Connect Core 3.1.3.6: "Base64url encoding of the left-most half of the hash of the
// octets of the ASCII representation of the access_token value", SHA-256 for RS256.
export async function accessTokenHash(accessToken) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(accessToken)));
  return base64url.encode(digest.slice(0, digest.length / 2));
}

// @ts-check
// Reading and verifying JSON Web Tokens (RFC 7519) with the browser's WebCrypto, no library.

import * as base64url from "./base64url.js";
import { FlowError } from "./errors.js";
import { isJsonObject, request } from "./http.js";

/** @typedef {import("./http.js").JsonObject} JsonObject */

// The only algorithm accepted, from our configuration, never from the token's header.
export const ALGORITHM = "RS256";
const RSA_SHA256 = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };

/**
 * A JWT split and decoded, its signature not verified yet.
 *
 * @typedef {object} DecodedJwt
 * @property {JsonObject} header
 * @property {JsonObject} payload
 * @property {string} signingInput
 * @property {Uint8Array<ArrayBuffer>} signature
 */

/**
 * @param {unknown} token
 * @returns {DecodedJwt}
 */
export function decodeJwt(token) {
  const segments = typeof token === "string" ? token.split(".") : [];
  if (segments.length !== 3) {
    throw new FlowError("invalid_token", "A JWT has three dot-separated parts.");
  }
  let header, payload, signature;
  try {
    header = JSON.parse(base64url.decodeText(segments[0]));
    payload = JSON.parse(base64url.decodeText(segments[1]));
    signature = base64url.decode(segments[2]);
  } catch {
    throw new FlowError(
      "invalid_token",
      "The JWT's header or payload is not base64url-encoded JSON.",
    );
  }
  // RFC 7515 §5.2 (3) for the header, RFC 7519 §7.2 (10) for the claims: "Verify that the
  // resulting octet sequence is a UTF-8-encoded representation of a completely valid JSON
  // object conforming to RFC 7159".
  if (!isJsonObject(header) || !isJsonObject(payload)) {
    throw new FlowError("invalid_token", "The JWT's header or payload is not a JSON object.");
  }
  return { header, payload, signingInput: `${segments[0]}.${segments[1]}`, signature };
}

// RFC 7515 §4.1.9: "A recipient using the media type value MUST treat it as if "application/"
// were prepended to any "typ" value not containing a '/'." Media types are case-insensitive.
/** @param {string} typ */
export function mediaType(typ) {
  const lower = typ.toLowerCase();
  return lower.includes("/") ? lower : `application/${lower}`;
}

// The cache rules of the API's validator (shared/token_validation.py, JWKSCache, itself after
// panva/jose's remote JWKS): keys are kept JWKS_MAX_AGE_MS (less if the issuer's Cache-Control
// max-age says so); a refresh, or a token with an unknown kid, downloads at most once per
// JWKS_COOLDOWN_MS; one download runs at a time however many tokens wait for it; a token whose
// key is cached never waits (a stale set is refreshed in the background); when refreshes fail,
// the known keys keep working JWKS_STALE_IF_ERROR_MS longer.
export const JWKS_MAX_AGE_MS = 600_000;
export const JWKS_COOLDOWN_MS = 30_000;
export const JWKS_STALE_IF_ERROR_MS = 3_600_000;

/**
 * @typedef {object} KeySetOptions
 * @property {number} [timeoutMs] For each download; REQUEST_TIMEOUT_MS unless given.
 * @property {number} [maxAgeMs]
 * @property {number} [cooldownMs]
 * @property {number} [staleIfErrorMs]
 * @property {() => number} [now] A monotonic clock in milliseconds: performance.now() unless
 *   given.
 */

/**
 * A public RSA signing key of the issuer's JWKS (RFC 7517 §4, RFC 7518 §6.3).
 *
 * @typedef {object} RsaJwk
 * @property {"RSA"} kty
 * @property {string} n
 * @property {string} e
 * @property {string} [kid]
 * @property {string} [use]
 * @property {string} [alg]
 * @property {string[]} [key_ops]
 */

// The issuer's signing keys (its JWKS), downloaded when first needed and again when a token
// names a key id we have not seen (the issuer rotated its keys), within the rules above.
export class KeySet {
  /**
   * @param {string} jwksUri
   * @param {KeySetOptions} [options]
   */
  constructor(jwksUri, options = {}) {
    this.jwksUri = jwksUri;
    this.timeoutMs = options.timeoutMs;
    this.maxAgeMs = options.maxAgeMs ?? JWKS_MAX_AGE_MS;
    this.cooldownMs = options.cooldownMs ?? JWKS_COOLDOWN_MS;
    this.staleIfErrorMs = options.staleIfErrorMs ?? JWKS_STALE_IF_ERROR_MS;
    this.now = options.now ?? (() => performance.now());
    /** @type {RsaJwk[] | null} */
    this.cached = null;
    this.freshUntil = -Infinity;
    this.usableUntil = -Infinity;
    this.lastDownloadEnded = -Infinity;
    /** @type {FlowError | null} */
    this.lastError = null;
    /** @type {Promise<void> | null} */
    this.inFlight = null;
  }

  /**
   * The usable keys of the last JWKS, null before the first.
   *
   * @returns {RsaJwk[] | null}
   */
  get keys() {
    return this.cached;
  }

  /**
   * Keys known without a download (the in-page tests give them so): fresh from now on.
   *
   * @param {unknown[]} jwks
   */
  set keys(jwks) {
    this.store(usableKeys({ keys: jwks }), this.maxAgeMs);
  }

  /**
   * @param {RsaJwk[]} keys
   * @param {number} lifetimeMs
   */
  store(keys, lifetimeMs) {
    this.cached = keys;
    this.freshUntil = this.now() + lifetimeMs;
    this.usableUntil = this.freshUntil + this.staleIfErrorMs;
  }

  /**
   * The verification key for a token's kid; downloads the JWKS when the rules allow.
   *
   * @param {string | undefined} kid
   * @returns {Promise<CryptoKey>}
   */
  async keyFor(kid) {
    const now = this.now();
    if (this.cached !== null && now < this.usableUntil) {
      const jwk = findKey(this.cached, kid);
      if (jwk !== undefined) {
        // Stale: the cached key serves this token, the refresh runs in the background.
        if (now >= this.freshUntil) void this.refresh();
        return importVerifyKey(jwk);
      }
    }
    await this.refresh();
    if (this.cached === null || this.now() >= this.usableUntil) {
      throw (
        this.lastError ??
        new FlowError("jwks_unavailable", `No usable keys from the issuer's JWKS ${this.jwksUri}.`)
      );
    }
    const jwk = findKey(this.cached, kid);
    if (jwk !== undefined) return importVerifyKey(jwk);
    if (this.lastError !== null) {
      throw new FlowError(
        this.lastError.code,
        `No key with kid ${JSON.stringify(kid)} is known, and the issuer's keys could not be read again: ${this.lastError.description}`,
      );
    }
    throw new FlowError(
      "invalid_token",
      `No signing key with kid ${JSON.stringify(kid)} in the issuer's JWKS.`,
    );
  }

  /**
   * Starts a download unless one runs or the cooldown forbids it; settles when the running
   * download (if any) has ended. Never rejects: a failure is kept in lastError.
   *
   * @returns {Promise<void>}
   */
  refresh() {
    if (this.inFlight === null && this.now() - this.lastDownloadEnded >= this.cooldownMs) {
      this.inFlight = this.download().finally(() => {
        // The cooldown runs from the end of a download, so that a hanging endpoint is asked
        // at most once per timeout plus cooldown.
        this.lastDownloadEnded = this.now();
        this.inFlight = null;
      });
    }
    return this.inFlight ?? Promise.resolve();
  }

  async download() {
    try {
      const answer = await request(this.jwksUri, {
        what: "the issuer's JWKS",
        timeoutMs: this.timeoutMs,
      });
      const keys = usableKeys(answer.body);
      // The server may shorten the cache, never lengthen it beyond maxAgeMs; a very short
      // max-age still refreshes at most once per cooldown (see refresh).
      const serverMaxAge = cacheControlMaxAge(answer.headers.get("Cache-Control"));
      this.store(
        keys,
        serverMaxAge === null ? this.maxAgeMs : Math.min(serverMaxAge * 1000, this.maxAgeMs),
      );
      this.lastError = null;
    } catch (error) {
      this.lastError =
        error instanceof FlowError ? error : new FlowError("jwks_unavailable", String(error));
    }
  }
}

/**
 * The RS256 signature keys of a JWKS document; a kid that appears twice counts once, the
 * first time (as in the API's validator).
 *
 * @param {unknown} document
 * @returns {RsaJwk[]}
 */
function usableKeys(document) {
  // RFC 7517 §5: "The JSON object MUST have a "keys" member, with its value being an array of
  // JWKs."
  if (!isJsonObject(document) || !Array.isArray(document.keys)) {
    throw new FlowError(
      "jwks_unavailable",
      "The issuer's JWKS is not an object with a keys array.",
    );
  }
  /** @type {RsaJwk[]} */
  const keys = [];
  const kids = new Set();
  for (const jwk of document.keys) {
    if (!isRs256VerificationKey(jwk) || (jwk.kid !== undefined && kids.has(jwk.kid))) continue;
    kids.add(jwk.kid);
    keys.push(jwk);
  }
  if (keys.length === 0) {
    throw new FlowError("jwks_unavailable", `The issuer's JWKS has no ${ALGORITHM} signature key.`);
  }
  return keys;
}

/**
 * RFC 7517 §4.2: "The "use" (public key use) parameter identifies the intended use of the
 * public key"; §4.3 "key_ops" lists the operations it is for; §4.4 "alg" the algorithm.
 *
 * @param {unknown} jwk
 * @returns {jwk is RsaJwk}
 */
function isRs256VerificationKey(jwk) {
  return (
    isJsonObject(jwk) &&
    jwk.kty === "RSA" &&
    typeof jwk.n === "string" &&
    typeof jwk.e === "string" &&
    (jwk.kid === undefined || typeof jwk.kid === "string") &&
    (jwk.use ?? "sig") === "sig" &&
    (jwk.alg ?? ALGORITHM) === ALGORITHM &&
    (jwk.key_ops === undefined || (Array.isArray(jwk.key_ops) && jwk.key_ops.includes("verify")))
  );
}

/**
 * The key named kid, or when the token names none, the only key there is.
 *
 * @param {RsaJwk[]} keys
 * @param {string | undefined} kid
 */
function findKey(keys, kid) {
  if (kid !== undefined) return keys.find((key) => key.kid === kid);
  return keys.length === 1 ? keys[0] : undefined;
}

/** @param {RsaJwk} jwk */
function importVerifyKey(jwk) {
  return crypto.subtle.importKey(
    "jwk",
    { kty: "RSA", n: jwk.n, e: jwk.e, alg: ALGORITHM, ext: true },
    RSA_SHA256,
    false,
    ["verify"],
  );
}

// RFC 9111 §5.2.2.1: the "max-age" response directive, in seconds; null without one.
const MAX_AGE = /(?:^|,)\s*max-age\s*=\s*"?(\d+)"?\s*(?:,|$)/i;

/** @param {string | null} header */
function cacheControlMaxAge(header) {
  const match = MAX_AGE.exec(header ?? "");
  return match === null ? null : Number(match[1]);
}

/**
 * The header checks of the API's validator, then the signature with the issuer's key.
 *
 * @param {DecodedJwt} decoded
 * @param {KeySet} keySet
 */
export async function verifySignature(decoded, keySet) {
  const { alg, crit, kid, typ } = decoded.header;
  // RFC 8725 §3.1: "Libraries MUST enable the caller to specify a supported set of algorithms
  // and MUST NOT use any other algorithms when performing cryptographic operations."
  if (alg !== ALGORITHM) {
    throw new FlowError(
      "invalid_token",
      `The token is signed with ${JSON.stringify(alg)}; only ${ALGORITHM} is accepted.`,
    );
  }
  // RFC 7515 §4.1.11: "If any of the listed extension Header Parameters are not understood and
  // supported by the recipient, then the JWS is invalid." This page supports no extension.
  if (crit !== undefined) {
    throw new FlowError(
      "invalid_token",
      "The token's crit header names extensions this app does not support.",
    );
  }
  // RFC 7515 §4.1.4: "The "kid" value is a case-sensitive string."
  if (kid !== undefined && typeof kid !== "string") {
    throw new FlowError("invalid_token", "The token's kid header is not a string.");
  }
  // RFC 7515 §4.1.9: the "typ" header declares a media type; its value is a string.
  if (typ !== undefined && typeof typ !== "string") {
    throw new FlowError("invalid_token", "The token's typ header is not a string.");
  }
  const key = await keySet.keyFor(kid);
  const valid = await crypto.subtle.verify(
    RSA_SHA256,
    key,
    decoded.signature,
    new TextEncoder().encode(decoded.signingInput),
  );
  if (!valid) {
    throw new FlowError(
      "invalid_token",
      "The token's signature does not verify with the issuer's key.",
    );
  }
}

// OpenID Connect Core 3.1.3.6: "Base64url encoding of the left-most half of the hash of the
// octets of the ASCII representation of the access_token value", SHA-256 for RS256.
/** @param {string} accessToken */
export async function accessTokenHash(accessToken) {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(accessToken)),
  );
  return base64url.encode(digest.slice(0, digest.length / 2));
}

// @ts-check
// The authorization code grant (RFC 6749 §4.1) with PKCE (RFC 7636), from the browser: the
// recommended flow for single page apps (RFC 9700 §2.1.1). Only a one-time code passes through
// the address bar; the tokens come from a direct request to the token endpoint, which releases
// them only to whoever holds the code_verifier behind the code_challenge.

import { newState } from "./authorization.js";
import * as base64url from "./base64url.js";
import { FlowError } from "./errors.js";
import { request } from "./http.js";
import { acceptTokenResponse, shorten } from "./tokens.js";

/** @typedef {import("./authorization.js").Flow} Flow */

// RFC 7636 §4.2: code_challenge = BASE64URL-ENCODE(SHA256(ASCII(code_verifier))).
/** @param {string} codeVerifier */
export async function codeChallenge(codeVerifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(codeVerifier));
  return base64url.encode(digest);
}

/** @type {Flow} */
export const codePkce = {
  id: "code",
  name: "Authorization code + PKCE (recommended)",
  // The article's numbered steps for PKCE, written there for a native app: "native app" becomes
  // "app", and step 4 names the ID token an SPA gets where a native app may get a refresh token.
  steps: [
    {
      name: "request",
      text: "The app initiates the flow and redirects the user to Auth0 sending the code_challenge and code_challenge_method parameters.",
    },
    {
      name: "response",
      text: "Auth0 redirects the user to the app with an authorization_code in the query string.",
    },
    {
      name: "token_request",
      text: "The app sends the authorization_code and code_verifier together with the redirect_uri and the client_id to Auth0.",
    },
    {
      name: "token_response",
      text: "Auth0 validates this information and returns an Access Token (and an ID Token).",
    },
    {
      name: "api_call",
      text: "The app can use the Access Token to call the API on behalf of the user.",
    },
  ],
  // What the app must remember between the request and the response.
  kept: "state, nonce and code_verifier",

  async prepare() {
    const state = newState();
    const nonce = base64url.randomValue();
    // RFC 7636 §4.1: a high-entropy verifier of 43 to 128 characters; 32 random bytes give 43.
    const codeVerifier = base64url.randomValue();
    return {
      params: {
        response_type: "code",
        state,
        nonce,
        code_challenge: await codeChallenge(codeVerifier),
        code_challenge_method: "S256",
      },
      pending: { flow: this.id, state, nonce, codeVerifier },
      notes: [
        `code_verifier: ${codeVerifier.length} random characters, kept secret for now; only its SHA-256 (the code_challenge) is sent`,
      ],
    };
  },

  responseParameters(url) {
    return url.searchParams;
  },

  async complete(response, pending, settings, log) {
    const code = response.get("code");
    if (!code) throw new FlowError("invalid_response", "The response has no authorization code.");
    const codeVerifier = pending.codeVerifier;
    if (!codeVerifier) {
      throw new FlowError("invalid_response", "No code_verifier was kept for this response.");
    }
    const tokenEndpoint = settings.metadata.token_endpoint;
    log.begin(this, "token_request", [
      `POST ${tokenEndpoint} (fetch, CORS; no client secret: a browser cannot keep one)`,
      "grant_type = authorization_code",
      `code = ${shorten(code)}`,
      `code_verifier = ${shorten(codeVerifier)} (the secret behind the code_challenge)`,
      `redirect_uri = ${settings.redirectUri}`,
      `client_id = ${settings.clientId}`,
    ]);
    // An error answer (RFC 6749 §5.2) becomes a FlowError with its error code.
    const answer = await request(tokenEndpoint, {
      what: "the token endpoint",
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code,
        code_verifier: codeVerifier,
        redirect_uri: settings.redirectUri,
        client_id: settings.clientId,
      }),
      timeoutMs: settings.requestTimeoutMs,
    });
    const fields = /** @type {import("./tokens.js").TokenResponse} */ (answer.body);
    log.begin(this, "token_response", [
      `${answer.status} from the token endpoint: ${Object.keys(fields).join(", ")}`,
    ]);
    return acceptTokenResponse(fields, pending, settings, log);
  },
};

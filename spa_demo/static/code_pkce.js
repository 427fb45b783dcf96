// The authorization code grant (RFC 6749 §4.1) with PKCE (RFC 7636), from the browser: the
// recommended flow for single page apps (RFC 9700 §2.1.1). Only a one-time code passes through
// the address bar; the tokens come from a direct request to the token endpoint, which releases
// them only to whoever holds the code_verifier behind the code_challenge.

import { newState } from "./authorization.js";
import * as base64url from "./base64url.js";
import { FlowError } from "./errors.js";
import { acceptTokenResponse, shorten } from "./tokens.js";

// RFC 7636 §4.2: code_challenge = BASE64URL-ENCODE(SHA256(ASCII(code_verifier))).
export async function codeChallenge(codeVerifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(codeVerifier));
  return base64url.encode(digest);
}

async function postForm(url, fields) {
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields),
      credentials: "omit",
      cache: "no-store",
    });
  } catch {
    throw new FlowError("unreachable", `Could not reach the token endpoint ${url}.`);
  }
  const body = await response.json().catch(() => ({}));
  return { status: response.status, ok: response.ok, body };
}

export const codePkce = {
  id: "code",
  name: "Authorization code + PKCE (recommended)",
  // The article's numbered steps for PKCE, written there for a native app: "native app" becomes
  // "app", and step 4 names the ID token an SPA gets where a native app may get a refresh token.
  steps: [
    "The app initiates the flow and redirects the user to Auth0 sending the code_challenge and code_challenge_method parameters.",
    "Auth0 redirects the user to the app with an authorization_code in the query string.",
    "The app sends the authorization_code and code_verifier together with the redirect_uri and the client_id to Auth0.",
    "Auth0 validates this information and returns an Access Token (and an ID Token).",
    "The app can use the Access Token to call the API on behalf of the user.",
  ],
  responseStep: 2,
  apiStep: 5,
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
    const tokenEndpoint = settings.metadata.token_endpoint;
    log.begin(this, 3, [
      `POST ${tokenEndpoint} (fetch, CORS; no client secret: a browser cannot keep one)`,
      "grant_type = authorization_code",
      `code = ${shorten(code)}`,
      `code_verifier = ${shorten(pending.codeVerifier)} (the secret behind the code_challenge)`,
      `redirect_uri = ${settings.redirectUri}`,
      `client_id = ${settings.clientId}`,
    ]);
    const answer = await postForm(tokenEndpoint, {
      grant_type: "authorization_code",
      code,
      code_verifier: pending.codeVerifier,
      redirect_uri: settings.redirectUri,
      client_id: settings.clientId,
    });
    if (!answer.ok) {
      throw new FlowError(answer.body.error || "token_request_failed", answer.body.error_description || `The token endpoint answered ${answer.status}.`);
    }
    log.begin(this, 4, [`${answer.status} from the token endpoint: ${Object.keys(answer.body).join(", ")}`]);
    return acceptTokenResponse(answer.body, pending, settings, log);
  },
};

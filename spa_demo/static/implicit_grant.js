// @ts-check
// The implicit grant (RFC 6749 §4.2) with an ID token, `response_type=token id_token` (OpenID
// Connect Core §3.2): the tokens come straight back in the URL fragment. Legacy: RFC 9700 §2.1.2
// says clients "SHOULD NOT use the implicit grant"; it is here so the difference can be seen.

import { newState } from "./authorization.js";
import { randomValue } from "./base64url.js";
import { acceptTokenResponse } from "./tokens.js";

/** @typedef {import("./authorization.js").Flow} Flow */

/** @type {Flow} */
export const implicitGrant = {
  id: "implicit",
  name: "Implicit grant (legacy)",
  // The article's numbered steps for a single page application, word for word.
  steps: [
    {
      name: "request",
      text: "The app initiates the flow and redirects the browser to Auth0, so the user can authenticate.",
    },
    {
      name: "authentication",
      text: "Auth0 authenticates the user. The first time the user goes through this flow, and if the application is a third party application, a consent page will be shown where the permissions, that will be given to the Client, are listed (for example, post messages, list contacts, and so forth).",
    },
    {
      name: "response",
      text: "Auth0 redirects the user to the app with an Access Token (and optionally an ID Token) in the hash fragment of the URI. The app can now extract the tokens from the hash fragment.",
    },
    {
      name: "api_call",
      text: "The app can use the Access Token to call the API on behalf of the user.",
    },
  ],
  // What the app must remember between the request and the response.
  kept: "state and nonce",

  async prepare() {
    const state = newState();
    // OpenID Connect Core §3.2.2.1: nonce is REQUIRED in the implicit flow.
    const nonce = randomValue();
    return {
      params: { response_type: "token id_token", state, nonce },
      pending: { flow: this.id, state, nonce },
      notes: ["nonce: the issuer copies it into the ID token, so a replayed ID token is detected"],
    };
  },

  // The tokens are in the fragment, which the browser never sends to the SPA's server.
  responseParameters(url) {
    return new URLSearchParams(url.hash.slice(1));
  },

  async complete(response, pending, settings, log) {
    return acceptTokenResponse(Object.fromEntries(response), pending, settings, log, {
      bindsAccessToken: true,
    });
  },
};

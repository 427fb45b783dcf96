// @ts-check
// The third mode: the same authorization code + PKCE flow, done by Auth0's SDK for single page
// apps (auth0-spa-js) instead of by this page's own code. The page only calls the SDK
// (loginWithRedirect, loginWithPopup, handleRedirectCallback, getTokenSilently, getUser,
// logout) and watches what the SDK sends, to narrate it as the article's steps: the /authorize
// URL it builds (openUrl, and the popup's address), its token requests (fetch, or the Web
// Worker that keeps the refresh token), and the hidden iframe of silent authentication with the
// response the issuer posts back to this page (response_mode=web_message).
//
// The SDK is loaded from this origin (/vendor/auth0-spa-js/, served by the SPA server from the
// npm install), with a dynamic import: without the npm install only this mode is unavailable.

import { codePkce } from "./code_pkce.js";
import { FlowError } from "./errors.js";
import { decodeJwt } from "./jwt.js";
import { describeParameters, describeRequest, describeResponse } from "./steps.js";
import { shorten } from "./tokens.js";

/** @typedef {import("@auth0/auth0-spa-js").Auth0Client} Auth0Client */
/** @typedef {import("@auth0/auth0-spa-js").Auth0ClientOptions} Auth0ClientOptions */
/** @typedef {import("./settings.js").Settings} Settings */
/** @typedef {import("./steps.js").StepLog} StepLog */
/** @typedef {import("./id_token.js").IdClaims} IdClaims */

export const SDK_URL = "/vendor/auth0-spa-js/auth0-spa-js.production.esm.js";
export const WORKER_URL = "/vendor/auth0-spa-js/auth0-spa-js.worker.production.js";
// The one Trusted Types policy the page's CSP allows (spa_demo/security_headers.py).
const WORKER_POLICY = "auth0-spa-js-worker";
export const REFRESH_TOKENS_KEY = "flowlab.sdk_use_refresh_tokens";
const REQUEST_LINES_KEY = "flowlab.sdk_request_lines";
// Seconds the SDK waits for the silent iframe or the popup (its default is 60).
const AUTHORIZE_TIMEOUT_SECONDS = 10;

/** The mode as the steps panel and the page name it: the PKCE mode's steps, word for word. */
export const sdkMode = {
  id: /** @type {const} */ ("sdk"),
  name: "Auth0 SDK (auth0-spa-js)",
  steps: codePkce.steps,
};

export function usesRefreshTokens() {
  return sessionStorage.getItem(REFRESH_TOKENS_KEY) === "true";
}

/** @param {boolean} use */
export function setUsesRefreshTokens(use) {
  sessionStorage.setItem(REFRESH_TOKENS_KEY, String(use));
}

/**
 * What the page shows of the SDK's session: the same shape as the hand-written modes'.
 *
 * @typedef {object} SdkTokens
 * @property {string} accessToken
 * @property {string} idToken
 * @property {number} expiresIn
 * @property {number} expiresAt
 * @property {IdClaims} idClaims From getUser(): the ID token's profile claims.
 * @property {string | null} scope
 */

/**
 * An SDK error (GenericError and its kin have `error` and `error_description`) as a FlowError.
 *
 * @param {unknown} caught
 */
export function asFlowError(caught) {
  if (caught instanceof FlowError) return caught;
  const error = /** @type {{ error?: unknown, error_description?: unknown, message?: unknown }} */ (
    caught ?? {}
  );
  return new FlowError(
    typeof error.error === "string" ? error.error : "sdk_error",
    typeof error.error_description === "string" && error.error_description
      ? error.error_description
      : String(error.message ?? caught),
  );
}

/**
 * A token request's body as the SDK sent it (JSON, or a form if useFormData).
 *
 * @param {unknown} body
 * @returns {URLSearchParams}
 */
function bodyParameters(body) {
  if (typeof body !== "string") return new URLSearchParams();
  try {
    const fields = JSON.parse(body);
    return new URLSearchParams(
      Object.entries(fields).map(([name, value]) => [name, String(value)]),
    );
  } catch {
    return new URLSearchParams(body);
  }
}

/**
 * @param {Record<string, unknown>} fields
 */
function describeTokenFields(fields) {
  return Object.keys(fields).join(", ");
}

export class SdkMode {
  /** @param {StepLog} log */
  constructor(log) {
    this.log = log;
    /** @type {Auth0Client | null} */
    this.client = null;
    /** @type {boolean | null} */
    this.clientUsesRefreshTokens = null;
    /** @type {Settings | null} */
    this.settings = null;
    // Requests the SDK was seen sending (token requests, iframes): a getTokenSilently() that
    // sent none answered from the SDK's cache.
    this.requestsSeen = 0;
    this.observing = false;
  }

  /**
   * Loads the SDK (once) and creates its client for the current useRefreshTokens choice.
   *
   * @param {Settings} settings
   */
  async load(settings) {
    const useRefreshTokens = usesRefreshTokens();
    if (this.client !== null && this.clientUsesRefreshTokens === useRefreshTokens) {
      return this.client;
    }
    const issuerUrl = new URL(settings.issuer);
    if (settings.issuer !== `${issuerUrl.origin}/`) {
      throw new FlowError(
        "unsupported_issuer",
        `auth0-spa-js builds every URL from the domain (https://DOMAIN/authorize, /oauth/token) and expects the issuer DOMAIN/; ${settings.issuer} is not of that form.`,
      );
    }
    /** @type {typeof import("@auth0/auth0-spa-js")} */
    let sdk;
    try {
      sdk = await import(SDK_URL);
    } catch {
      throw new FlowError(
        "sdk_missing",
        `auth0-spa-js could not be loaded from ${SDK_URL}: install it with \`npm install\` (or \`make\`) in the project and restart the SPA server. The other two modes work without it.`,
      );
    }
    this.settings = settings;
    this.observe(issuerUrl.origin);
    // The domain with its scheme: without one the SDK assumes https://, which the local issuer
    // (http://localhost:9000/) does not speak. The SDK then expects the issuer `${domain}/`.
    /** @type {Auth0ClientOptions & { refreshTokenMode?: "offline" }} */
    const options = {
      domain: issuerUrl.origin,
      clientId: settings.clientId,
      authorizationParams: {
        redirect_uri: settings.redirectUri,
        audience: settings.audience,
        scope: settings.scope,
      },
      authorizeTimeoutInSeconds: AUTHORIZE_TIMEOUT_SECONDS,
      // Tokens in memory only, as in the other modes (the SDK's default cache).
      cacheLocation: "memory",
      useRefreshTokens,
    };
    if (useRefreshTokens) {
      // After a reload the memory cache (and its refresh token) is gone: fall back to the iframe.
      options.useRefreshTokensFallback = true;
      options.workerUrl = /** @type {string} */ (/** @type {unknown} */ (workerScriptUrl()));
    }
    this.log.note(
      `createAuth0Client({ domain: "${issuerUrl.origin}", clientId: "${settings.clientId}", useRefreshTokens: ${useRefreshTokens} })`,
      [
        `authorizationParams: redirect_uri = ${settings.redirectUri}, audience = ${settings.audience}, scope = ${settings.scope}`,
        useRefreshTokens
          ? "useRefreshTokens: the SDK adds offline_access to the scope and keeps the refresh token in a Web Worker, out of this page's reach"
          : "Silent renewal by a hidden iframe with prompt=none and response_mode=web_message",
        "Then checkSession(): if the SDK's is.authenticated cookie says this browser logged in, it asks Auth0 silently for tokens at once",
      ],
    );
    this.client = await sdk.createAuth0Client(options);
    this.clientUsesRefreshTokens = useRefreshTokens;
    return this.client;
  }

  // The SDK's requests, watched where it makes them; only requests carrying the SDK's
  // Auth0-Client header, so the hand-written mode's own token requests are not narrated twice.
  /** @param {string} issuerOrigin */
  observe(issuerOrigin) {
    if (this.observing) return;
    this.observing = true;
    const tokenEndpoint = `${issuerOrigin}/oauth/token`;
    const nativeFetch = window.fetch.bind(window);
    window.fetch = async (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      const headers = new Headers(init?.headers);
      if (url !== tokenEndpoint || !headers.has("Auth0-Client")) return nativeFetch(input, init);
      const parameters = bodyParameters(init?.body);
      this.narrateTokenRequest(url, parameters, "fetch, CORS");
      const response = await nativeFetch(input, init);
      /** @type {Record<string, unknown>} */
      let fields = {};
      try {
        fields = await response.clone().json();
      } catch {
        // Not JSON: the SDK reports that itself.
      }
      this.narrateTokenResponse(parameters, response.status, fields);
      return response;
    };
    // With useRefreshTokens the SDK's worker makes the token requests: the page sends it the
    // request without the refresh token, which the worker adds (and strips from the answer).
    const NativeWorker = window.Worker;
    const mode = this;
    window.Worker = class NarratedWorker extends NativeWorker {
      /**
       * @param {any} message
       * @param {any} [transfer]
       */
      postMessage(message, transfer) {
        const reply = Array.isArray(transfer) ? transfer[0] : undefined;
        if (message?.fetchUrl !== tokenEndpoint || !(reply instanceof MessagePort)) {
          super.postMessage(message, transfer);
          return;
        }
        const parameters = bodyParameters(message.fetchOptions?.body);
        const added =
          parameters.get("grant_type") === "refresh_token" && !parameters.has("refresh_token")
            ? [
                "ℹ refresh_token: not in what the page sent; the SDK's Web Worker adds it, the page never sees it",
              ]
            : [];
        mode.narrateTokenRequest(tokenEndpoint, parameters, "from the SDK's Web Worker", added);
        const channel = new MessageChannel();
        channel.port1.onmessage = (event) => {
          const data = event.data ?? {};
          mode.narrateTokenResponse(
            parameters,
            data.ok === false ? 400 : 200,
            data.json ?? {},
            true,
          );
          reply.postMessage(data);
          channel.port1.close();
        };
        super.postMessage(message, [channel.port2]);
      }
    };
    // Silent authentication: the SDK's hidden iframe at /authorize, seen as it is added.
    new MutationObserver((records) => {
      for (const record of records) {
        for (const node of record.addedNodes) {
          if (!(node instanceof HTMLIFrameElement)) continue;
          const src = node.getAttribute("src");
          if (src && src.startsWith(`${issuerOrigin}/authorize`)) this.narrateSilentRequest(src);
        }
      }
    }).observe(document.body, { childList: true });
    // response_mode=web_message: the issuer's page in the iframe or popup posts the response.
    window.addEventListener("message", (event) => {
      if (event.origin !== issuerOrigin || event.data?.type !== "authorization_response") return;
      const response = event.data.response ?? {};
      const error = typeof response.error === "string" ? response.error : null;
      const arrow =
        error === null
          ? { label: "postMessage: code" }
          : { label: `postMessage: error=${error}`, kind: /** @type {const} */ ("error") };
      this.log.begin(
        sdkMode,
        "response",
        [
          `postMessage from ${event.origin} (response_mode=web_message): not the query string, the address bar never carries the code`,
          ...describeParameters(
            new URLSearchParams(
              Object.entries(response).map(([name, value]) => [name, String(value)]),
            ),
          ),
          "ℹ The SDK checks state against its transaction, then exchanges the code",
        ],
        arrow,
      );
    });
  }

  /**
   * @param {string} url
   * @param {URLSearchParams} parameters
   * @param {string} how
   * @param {string[]} [notes]
   */
  narrateTokenRequest(url, parameters, how, notes = []) {
    this.requestsSeen += 1;
    const lines = [
      `POST ${url} (${how}; no client secret)`,
      ...describeParameters(parameters),
      ...notes,
    ];
    const grantType = parameters.get("grant_type");
    if (grantType === "authorization_code") {
      this.log.begin(sdkMode, "token_request", lines);
    } else {
      this.log.note(
        `Token request, grant_type ${grantType}: not one of the article's steps (no redirect, no iframe)`,
        lines,
        {
          arrow: {
            from: "browser",
            to: "issuer",
            label: `POST /oauth/token (${grantType})`,
            kind: "request",
          },
        },
      );
    }
  }

  /**
   * @param {URLSearchParams} request The token request's parameters.
   * @param {number} status
   * @param {Record<string, unknown>} fields
   * @param {boolean} [inWorker]
   */
  narrateTokenResponse(request, status, fields, inWorker = false) {
    const lines = [`${status} from the token endpoint: ${describeTokenFields(fields)}`];
    if (typeof fields.error === "string") {
      lines.push(`✗ ${fields.error}: ${String(fields.error_description ?? "")}`);
    } else {
      lines.push(
        "ℹ The SDK checks the ID token's claims (iss, sub, RS256, aud, azp, nonce, exp, iat, nbf) but not its signature: it came straight from the token endpoint over TLS (OpenID Connect Core §3.1.3.7)",
        "ℹ The SDK caches the tokens in memory",
      );
      if (inWorker) {
        lines.push(
          "ℹ The worker kept the refresh token (rotated: each use returns a new one) and removed it from what the page gets",
        );
      }
    }
    const failed = typeof fields.error === "string";
    const label = failed ? `${status} ${fields.error}` : `${status} tokens`;
    const kind = failed ? /** @type {const} */ ("error") : /** @type {const} */ ("response");
    if (request.get("grant_type") === "authorization_code") {
      this.log.begin(sdkMode, "token_response", lines, { label, kind });
    } else {
      this.log.note("The token endpoint's answer", lines, {
        arrow: { from: "issuer", to: "browser", label, kind },
      });
    }
  }

  /** @param {string} src */
  narrateSilentRequest(src) {
    this.requestsSeen += 1;
    this.log.begin(
      sdkMode,
      "request",
      describeRequest(new URL(src), [
        "In a hidden iframe the SDK added to this page (seen by a MutationObserver): prompt=none shows no page",
        "The SDK keeps state, nonce and code_verifier in memory for the answer",
      ]),
      { label: "GET /authorize prompt=none (iframe)" },
    );
  }

  /**
   * The /authorize URL the SDK built, before the browser goes there.
   *
   * @param {string} url
   * @param {string} how
   */
  narrateAuthorizeRequest(url, how) {
    const lines = describeRequest(new URL(url), [
      how,
      "The SDK keeps state, nonce and code_verifier in sessionStorage (its transaction) for the response",
    ]);
    this.log.begin(sdkMode, "request", lines);
    return lines;
  }

  /** @param {Settings} settings */
  async loginWithRedirect(settings) {
    const client = await this.load(settings);
    await client.loginWithRedirect({
      openUrl: (url) => {
        const lines = this.narrateAuthorizeRequest(
          url,
          "loginWithRedirect({ openUrl }): the SDK handed this URL to the page, which navigates to it",
        );
        sessionStorage.setItem(REQUEST_LINES_KEY, JSON.stringify(lines));
        window.location.assign(url);
      },
    });
  }

  /**
   * The popup must open in the click's own task (popup blockers), before the SDK is loaded.
   *
   * @param {Settings} settings
   * @param {Window | null} popup
   */
  async loginWithPopup(settings, popup) {
    if (popup === null) {
      throw new FlowError("popup_blocked", "The browser blocked the login popup.");
    }
    const client = await this.load(settings);
    const narrate = (/** @type {string} */ url) =>
      this.narrateAuthorizeRequest(
        url,
        "loginWithPopup(): the SDK sent the popup to this URL; the answer comes back by postMessage",
      );
    // What the SDK does with the popup it is given: sets its address, watches and closes it.
    const watched = {
      get closed() {
        return popup.closed;
      },
      close() {
        popup.close();
      },
      location: {
        /** @param {string} url */
        set href(url) {
          narrate(url);
          popup.location.href = url;
        },
      },
    };
    try {
      await client.loginWithPopup({}, { popup: watched, timeoutInSeconds: 120 });
    } catch (error) {
      if (!popup.closed) popup.close();
      throw asFlowError(error);
    }
    return this.tokens(settings, "loginWithPopup() resolved");
  }

  /**
   * Back at /callback from loginWithRedirect.
   *
   * @param {Settings} settings
   * @param {URL} landedAt
   */
  async handleRedirectCallback(settings, landedAt) {
    const saved = sessionStorage.getItem(REQUEST_LINES_KEY);
    sessionStorage.removeItem(REQUEST_LINES_KEY);
    const client = await this.load(settings);
    if (saved !== null) this.log.begin(sdkMode, "request", JSON.parse(saved));
    this.log.begin(
      sdkMode,
      "response",
      [
        "The user signed in on the issuer's login page; this app never sees the password",
        ...describeResponse(landedAt, landedAt.searchParams),
        "Removed from the address bar at once with history.replaceState",
        "handleRedirectCallback(url): the SDK checks state against its transaction, then exchanges the code",
      ],
      { label: "code in the ?query" },
    );
    try {
      await client.handleRedirectCallback(landedAt.href);
    } catch (error) {
      throw asFlowError(error);
    }
    return this.tokens(settings, "handleRedirectCallback() resolved");
  }

  /**
   * getTokenSilently(): from the SDK's cache, or a request it narrates (iframe or refresh token).
   *
   * @param {Settings} settings
   * @param {string} reason
   * @param {boolean} [fresh] Ignore the cache (cacheMode "off").
   */
  async getTokenSilently(settings, reason, fresh = false) {
    await this.load(settings);
    this.log.note(`getTokenSilently(${fresh ? '{ cacheMode: "off" }' : ""}): ${reason}`);
    return this.tokens(settings, "getTokenSilently() resolved", fresh);
  }

  /**
   * After a page load, once createAuth0Client() ran checkSession(), the SDK's way to get a
   * session back: it tries silent authentication only if its is.authenticated cookie says this
   * browser logged in, and swallows a failure (the steps panel still shows what was sent).
   *
   * @param {Settings} settings
   * @returns {Promise<SdkTokens | null>} null when signed out.
   */
  async restore(settings) {
    const client = await this.load(settings);
    if (!(await client.isAuthenticated())) {
      this.log.note(
        "isAuthenticated() → false: checkSession() found no session (the page was loaded and the SDK's cache is in memory only). Log in to get tokens.",
        ["checking for an existing session: none"],
      );
      return null;
    }
    return this.tokens(settings, "checkSession() got the session back");
  }

  /**
   * The session as the page shows it: getTokenSilently's answer and getUser's claims.
   *
   * @param {Settings} settings
   * @param {string} what
   * @param {boolean} [fresh]
   * @returns {Promise<SdkTokens>}
   */
  async tokens(settings, what, fresh = false) {
    const client = await this.load(settings);
    const before = this.requestsSeen;
    let answer;
    try {
      answer = await client.getTokenSilently({
        detailedResponse: true,
        cacheMode: fresh ? "off" : "on",
      });
    } catch (error) {
      throw asFlowError(error);
    }
    if (answer === undefined) throw new FlowError("invalid_response", "The SDK gave no token.");
    const user = await client.getUser();
    const claims = await client.getIdTokenClaims();
    if (user === undefined || claims === undefined) {
      throw new FlowError("invalid_response", "The SDK has a token but no user.");
    }
    let expiresAt = Date.now() + answer.expires_in * 1000;
    try {
      const exp = decodeJwt(answer.access_token).payload.exp;
      if (typeof exp === "number") expiresAt = exp * 1000;
    } catch {
      // Not a JWT: the SDK's expires_in is all there is.
    }
    this.log.note(`${what}: getUser() → ${user.email ?? user.sub}`, [
      this.requestsSeen === before
        ? `getTokenSilently() → ${shorten(answer.access_token)} from the SDK's memory cache: no request sent`
        : `getTokenSilently() → ${shorten(answer.access_token)}`,
      `isAuthenticated() → ${await client.isAuthenticated()}`,
    ]);
    return {
      accessToken: answer.access_token,
      idToken: claims.__raw,
      expiresIn: Math.max(0, Math.round((expiresAt - Date.now()) / 1000)),
      expiresAt,
      idClaims: /** @type {IdClaims} */ (/** @type {unknown} */ (user)),
      scope: answer.scope ?? null,
    };
  }

  /**
   * The access token for an API call: getTokenSilently(), narrated in the API call's step.
   *
   * @param {Settings} settings
   */
  async accessToken(settings) {
    return this.tokens(settings, "Before the API call");
  }

  /**
   * @param {Settings} settings
   * @param {(url: string, notes: string[]) => void} narrate Tells of the logout request.
   */
  async logout(settings, narrate) {
    const client = await this.load(settings);
    sessionStorage.removeItem(REQUEST_LINES_KEY);
    await client.logout({
      logoutParams: { returnTo: settings.returnTo },
      openUrl: (url) => {
        narrate(url, [
          "logout({ openUrl }): the SDK dropped its cached tokens; Auth0's /v2/logout ends the session and sends the browser to returnTo",
        ]);
        window.location.assign(url);
      },
    });
  }
}

// The SDK's worker file as a TrustedScriptURL: `new Worker(url)` is a Trusted Types sink, and
// the page's CSP allows this one policy, which accepts this one path and nothing else.
// The part of the Trusted Types API this page uses (TypeScript's DOM library lacks it).
/**
 * @typedef {object} TrustedTypePolicyFactory
 * @property {(name: string, rules: { createScriptURL: (url: string) => string }) => { createScriptURL: (url: string) => unknown }} createPolicy
 */

/** @type {unknown} */
let trustedWorkerUrl;

// A policy name can be created once only: the URL is made once and kept.
function workerScriptUrl() {
  if (trustedWorkerUrl !== undefined) return trustedWorkerUrl;
  const factory = /** @type {{ trustedTypes?: TrustedTypePolicyFactory }} */ (
    /** @type {unknown} */ (window)
  ).trustedTypes;
  if (factory === undefined) {
    trustedWorkerUrl = WORKER_URL;
  } else {
    const policy = factory.createPolicy(WORKER_POLICY, {
      createScriptURL: (url) => {
        if (url !== WORKER_URL) throw new TypeError(`Not the SDK's worker: ${url}`);
        return url;
      },
    });
    trustedWorkerUrl = policy.createScriptURL(WORKER_URL);
  }
  return trustedWorkerUrl;
}

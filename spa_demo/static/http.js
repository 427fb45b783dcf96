// @ts-check
// Every request this page sends goes through request(): one timeout and one error model for
// this app's settings, the issuer's discovery document and keys, its token endpoint and the API.
// A request that gets no answer in time is given up, so a hung server shows an error instead of
// leaving the page "Working…" for ever.

import { FlowError } from "./errors.js";

// How long one request may take, answer body included, unless the settings say otherwise.
export const REQUEST_TIMEOUT_MS = 10_000;

/** @typedef {Record<string, unknown>} JsonObject */

/**
 * @typedef {object} RequestOptions
 * @property {string} what What is asked, in the learner's words ("the token endpoint").
 * @property {string} [method] GET unless given.
 * @property {Record<string, string>} [headers]
 * @property {BodyInit} [body]
 * @property {number} [timeoutMs] REQUEST_TIMEOUT_MS unless given.
 * @property {boolean} [anyStatus] Return 4xx and 5xx answers instead of refusing them (the
 *   API's refusals are what the page shows).
 * @property {boolean} [anyJson] Accept any JSON value (and no body with 204), not only an
 *   object as the OAuth and OpenID documents are.
 */

/**
 * @typedef {object} Answer
 * @property {number} status
 * @property {string} statusText
 * @property {Headers} headers
 * @property {unknown} body The parsed JSON, as it came: the caller checks what it reads.
 */

/**
 * Sends one request; resolves with the answer or rejects with a FlowError: `unreachable` (no
 * answer: network, DNS, CORS), `timeout`, `invalid_response` (not JSON), or for an HTTP error
 * the OAuth `error` code of its body (RFC 6749 §5.2) or else `http_error`.
 *
 * @param {string} url
 * @param {RequestOptions} options
 * @returns {Promise<Answer>}
 */
export async function request(url, options) {
  const { what, method = "GET", headers, body, anyStatus = false, anyJson = false } = options;
  const timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
  const where = `${what} (${method} ${url})`;
  let response;
  let text;
  try {
    response = await fetch(url, {
      method,
      headers,
      body,
      // A public client: no cookies or HTTP authentication go with these requests, and no
      // cached copy of an answer that carries tokens is kept.
      credentials: "omit",
      cache: "no-store",
      // The timeout covers reading the body as well as waiting for the headers.
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = await response.text();
  } catch (error) {
    if (error instanceof DOMException && error.name === "TimeoutError") {
      throw new FlowError(
        "timeout",
        `${where} did not answer within ${timeoutMs / 1000} s: the request was given up.`,
      );
    }
    throw new FlowError(
      "unreachable",
      `Could not reach ${where}: is it running, and does it allow this page's origin (CORS)?`,
    );
  }
  const parsed = parseJson(text, response.status, anyJson);
  if (!response.ok && !anyStatus) {
    const oauthError = /** @type {JsonObject | undefined} */ (parsed.ok ? parsed.value : undefined);
    const code = typeof oauthError?.error === "string" ? oauthError.error : "http_error";
    const description =
      typeof oauthError?.error_description === "string"
        ? oauthError.error_description
        : `${where} answered HTTP ${response.status}.`;
    throw new FlowError(code, description);
  }
  if (!parsed.ok) {
    throw new FlowError(
      "invalid_response",
      `${where} answered HTTP ${response.status} ${parsed.why}.`,
    );
  }
  return {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
    body: parsed.value,
  };
}

/**
 * @param {string} text
 * @param {number} status
 * @param {boolean} anyJson
 * @returns {{ ok: true, value: unknown } | { ok: false, why: string }}
 */
function parseJson(text, status, anyJson) {
  // RFC 9110 §15.3.5: "A 204 response is terminated by the end of the header section; it cannot
  // contain content".
  if (anyJson && status === 204 && text === "") return { ok: true, value: null };
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, why: "with a body that is not JSON" };
  }
  if (!anyJson && !isJsonObject(value))
    return { ok: false, why: "with JSON that is not an object" };
  return { ok: true, value };
}

/**
 * @param {unknown} value
 * @returns {value is JsonObject}
 */
export function isJsonObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

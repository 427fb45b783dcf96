// @ts-check
// Calls to the protected API with the access token as a Bearer token (RFC 6750 §2.1), and the
// answer as the learner should see it: status, WWW-Authenticate and body.

import { request } from "./http.js";

/**
 * One of the API's endpoints, as a button on the page.
 *
 * @typedef {object} Endpoint
 * @property {string} id
 * @property {"GET" | "POST"} method
 * @property {string} path
 * @property {string} needs What the API asks of the token, in words.
 * @property {boolean} sendsToken
 */

/**
 * What the page shows of an answer; status 0 when there was none.
 *
 * @typedef {object} ApiResult
 * @property {number} status
 * @property {string} statusText
 * @property {string | null} wwwAuthenticate
 * @property {unknown} body
 */

/** @type {Endpoint[]} */
export const ENDPOINTS = [
  { id: "public", method: "GET", path: "/api/public", needs: "no token", sendsToken: false },
  {
    id: "private",
    method: "GET",
    path: "/api/private",
    needs: "any valid token",
    sendsToken: true,
  },
  {
    id: "messages",
    method: "GET",
    path: "/api/messages",
    needs: "scope read:messages",
    sendsToken: true,
  },
  {
    id: "post-message",
    method: "POST",
    path: "/api/messages",
    needs: "scope write:messages",
    sendsToken: true,
  },
  { id: "me", method: "GET", path: "/api/me", needs: "a user's token", sendsToken: true },
  {
    id: "admin-stats",
    method: "GET",
    path: "/api/admin/stats",
    needs: "scope + permission read:stats",
    sendsToken: true,
  },
];

/**
 * Calls one endpoint. Every answer is a result, the API's 401 and 403 included (they are the
 * lesson); no answer, or one that is not JSON, is a FlowError.
 *
 * @param {string} apiUrl
 * @param {Endpoint} endpoint
 * @param {string | undefined} accessToken
 * @param {unknown} body
 * @param {number} [timeoutMs]
 * @returns {Promise<ApiResult>}
 */
export async function callApi(apiUrl, endpoint, accessToken, body, timeoutMs) {
  /** @type {Record<string, string>} */
  const headers = {};
  if (accessToken) headers.Authorization = `Bearer ${accessToken}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const answer = await request(`${apiUrl}${endpoint.path}`, {
    what: "the API",
    method: endpoint.method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    timeoutMs,
    anyStatus: true,
    anyJson: true,
  });
  return {
    status: answer.status,
    statusText: answer.statusText,
    // Readable only if the API lists it in Access-Control-Expose-Headers.
    wwwAuthenticate: answer.headers.get("WWW-Authenticate"),
    body: answer.body,
  };
}

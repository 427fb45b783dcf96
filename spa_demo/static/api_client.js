// Calls to the protected API with the access token as a Bearer token (RFC 6750 §2.1), and the
// answer as the learner should see it: status, WWW-Authenticate and body.

export const ENDPOINTS = [
  { id: "public", method: "GET", path: "/api/public", needs: "no token", sendsToken: false },
  { id: "private", method: "GET", path: "/api/private", needs: "any valid token", sendsToken: true },
  { id: "messages", method: "GET", path: "/api/messages", needs: "scope read:messages", sendsToken: true },
  { id: "post-message", method: "POST", path: "/api/messages", needs: "scope write:messages", sendsToken: true },
  { id: "me", method: "GET", path: "/api/me", needs: "a user's token", sendsToken: true },
  { id: "admin-stats", method: "GET", path: "/api/admin/stats", needs: "scope + permission read:stats", sendsToken: true },
];

export async function callApi(apiUrl, endpoint, accessToken, body) {
  const headers = {};
  if (accessToken) headers.Authorization = `Bearer ${accessToken}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(`${apiUrl}${endpoint.path}`, {
      method: endpoint.method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch {
    return { status: 0, statusText: "network error", wwwAuthenticate: null, body: "No answer: is the API running, and does its CORS_ORIGINS include this page's origin?" };
  }
  const text = await response.text();
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  return {
    status: response.status,
    statusText: response.statusText,
    // Readable only if the API lists it in Access-Control-Expose-Headers.
    wwwAuthenticate: response.headers.get("WWW-Authenticate"),
    body: parsed,
  };
}

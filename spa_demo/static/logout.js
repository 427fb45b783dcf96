// Logging out of the issuer as well as the app. Dropping the tokens from memory is not enough:
// the issuer's session cookie would sign the user straight back in (silent authentication).

export function logoutUrl(settings, idToken) {
  const endpoint = settings.metadata.end_session_endpoint;
  if (endpoint) {
    // OpenID Connect RP-Initiated Logout 1.0 §2, when the discovery document names the endpoint.
    const url = new URL(endpoint);
    url.searchParams.set("client_id", settings.clientId);
    url.searchParams.set("post_logout_redirect_uri", settings.returnTo);
    if (idToken) url.searchParams.set("id_token_hint", idToken);
    return url.href;
  }
  // Auth0's /v2/logout: it ends the session and redirects to `returnTo` if that URL is one of
  // the application's "Allowed Logout URLs".
  const url = new URL("v2/logout", settings.issuer);
  url.searchParams.set("client_id", settings.clientId);
  url.searchParams.set("returnTo", settings.returnTo);
  return url.href;
}

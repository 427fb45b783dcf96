// Logging out of the issuer as well as the app. Dropping the tokens from memory is not enough:
// the issuer's session cookie would sign the user straight back in (silent authentication).

// Auth0's logout endpoint, /v2/logout: it ends the session and redirects to `returnTo` if that
// URL is in the application's "Allowed Logout URLs".
export function logoutUrl(settings) {
  const url = new URL("v2/logout", settings.issuer);
  url.searchParams.set("client_id", settings.clientId);
  url.searchParams.set("returnTo", settings.returnTo);
  return url.href;
}

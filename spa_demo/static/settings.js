// What the page needs to know before it can start a flow: its own settings (from the SPA server,
// /config.json) and the issuer's endpoints (from its discovery document, never hard-coded).

import { FlowError } from "./errors.js";
import { KeySet } from "./jwt.js";

async function fetchJson(url, what) {
  let response;
  try {
    response = await fetch(url, { credentials: "omit", cache: "no-store" });
  } catch {
    throw new FlowError("unreachable", `Could not reach ${url} (${what}): is it running, and allowed by CORS?`);
  }
  if (!response.ok) throw new FlowError("unreachable", `${url} (${what}) answered ${response.status}.`);
  return response.json();
}

// OpenID Connect Discovery 1.0 §4: the issuer with any trailing "/" removed, plus the well-known path.
export function discoveryUrl(issuer) {
  return `${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
}

export async function loadSettings() {
  const config = await fetchJson("/config.json", "this app's settings");
  const metadata = await fetchJson(discoveryUrl(config.issuer), "the issuer's discovery document");
  // Discovery §4.3: "The issuer value returned MUST be identical to the Issuer URL that was used
  // as the prefix to /.well-known/openid-configuration to retrieve the configuration information."
  if (metadata.issuer !== config.issuer) {
    throw new FlowError("invalid_issuer", `The discovery document names the issuer ${JSON.stringify(metadata.issuer)}, not ${JSON.stringify(config.issuer)}.`);
  }
  return {
    ...config,
    metadata,
    keySet: new KeySet(metadata.jwks_uri),
    origin: window.location.origin,
    redirectUri: `${window.location.origin}/callback`,
    returnTo: `${window.location.origin}/`,
  };
}

// @ts-check
// Silent re-authentication: the authorization request again, with `prompt=none`, in a hidden
// iframe. If the user still has a session at the authorization server, it redirects the frame
// straight back to our /callback with a fresh response; if not, with error=login_required.
// Either way no page is shown (OpenID Connect Core §3.1.2.1, prompt=none).

import { FlowError } from "./errors.js";

export const SILENT_TIMEOUT_MS = 10_000;

// Resolves with the URL the frame lands on at our redirect URI (same origin, so readable).
/**
 * @param {string} url
 * @param {string} redirectUri
 * @returns {Promise<URL>}
 */
export function loadInHiddenFrame(url, redirectUri) {
  const target = new URL(redirectUri);
  return new Promise((resolve, reject) => {
    const frame = document.createElement("iframe");
    frame.hidden = true;
    frame.title = "silent authentication";
    // No scripts, forms or top navigation inside the frame; same origin kept so we can read
    // the response URL when it reaches our /callback.
    frame.setAttribute("sandbox", "allow-same-origin");
    /**
     * @template T
     * @param {(value: T) => void} settle
     * @param {T} value
     */
    const finish = (settle, value) => {
      clearTimeout(timer);
      frame.remove();
      settle(value);
    };
    const timer = setTimeout(
      () =>
        finish(
          reject,
          new FlowError(
            "timeout",
            "Silent authentication got no answer in time (is the issuer reachable, and does it allow this origin to frame prompt=none?).",
          ),
        ),
      SILENT_TIMEOUT_MS,
    );
    frame.addEventListener("load", () => {
      let landed;
      try {
        landed = new URL(frame.contentWindow?.location.href ?? "about:blank");
      } catch {
        return; // still on the issuer's origin: not readable, not ours
      }
      if (landed.origin === target.origin && landed.pathname === target.pathname)
        finish(resolve, landed);
    });
    frame.src = url;
    document.body.append(frame);
  });
}

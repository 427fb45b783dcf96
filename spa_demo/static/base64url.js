// @ts-check
// Base64url (RFC 4648 §5, no padding): the alphabet of JWTs, PKCE and our random values.

/** @param {ArrayBuffer | Uint8Array} bytes */
export function encode(bytes) {
  let binary = "";
  for (const byte of new Uint8Array(bytes)) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** @param {string} text */
export function decode(text) {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new TypeError("not base64url");
  const base64 = text.replaceAll("-", "+").replaceAll("_", "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (character) => character.charCodeAt(0));
}

/** @param {string} text */
export function decodeText(text) {
  return new TextDecoder("utf-8", { fatal: true }).decode(decode(text));
}

// 32 bytes from the browser's CSPRNG: 256 bits, 43 characters.
export function randomValue() {
  return encode(crypto.getRandomValues(new Uint8Array(32)));
}

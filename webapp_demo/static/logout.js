// @ts-check
// Sends the logout form to the authorization server's end_session_endpoint at once: the ID
// token goes as id_token_hint in the POST body, never in a URL.
const form = /** @type {HTMLFormElement | null} */ (document.getElementById("end-session"));
form?.submit();

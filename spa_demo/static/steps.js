// @ts-check
// The narrated log of what the app did: each entry is one of the flow's numbered steps (the
// article's wording) with the requests sent and what came back, or a note between steps.
// Code names a step by what happens in it; its number is only its place in the article's list.

import { shorten } from "./tokens.js";

/**
 * What happens in a step. Each flow's list has "request", "response" and "api_call"; the
 * implicit grant's article gives the user's authentication a step of its own, the PKCE one
 * folds it into the response and adds the token request and its response.
 *
 * @typedef {"request" | "authentication" | "response" | "token_request" | "token_response" | "api_call"} StepName
 */

/**
 * One of a flow's steps: what happens, and the article's sentence for it.
 *
 * @typedef {object} Step
 * @property {StepName} name
 * @property {string} text
 */

/**
 * What the log needs of a flow (see Flow in authorization.js).
 *
 * @typedef {object} NarratedFlow
 * @property {string} name
 * @property {Step[]} steps
 */

/**
 * One entry of the log: a numbered step (flowName and number set) or a note (both null).
 *
 * @typedef {object} StepEntry
 * @property {string | null} flowName
 * @property {number | null} number
 * @property {number} [total]
 * @property {string} title
 * @property {string[]} lines
 * @property {"done" | "failed" | "note"} outcome
 */

// Parameters that carry a credential: shown shortened, enough to recognise, never whole.
const CREDENTIAL_PARAMETERS = new Set([
  "access_token",
  "id_token",
  "code",
  "id_token_hint",
  "code_verifier",
  "refresh_token",
]);

/** @param {URLSearchParams} parameters */
export function describeParameters(parameters) {
  return [...parameters].map(
    ([name, value]) => `  ${name} = ${CREDENTIAL_PARAMETERS.has(name) ? shorten(value) : value}`,
  );
}

/**
 * @param {URL} url
 * @param {string[]} [notes]
 */
export function describeRequest(url, notes = []) {
  return [
    `GET ${url.origin}${url.pathname}`,
    ...describeParameters(url.searchParams),
    ...notes.map((note) => `ℹ ${note}`),
  ];
}

/**
 * @param {URL} url
 * @param {URLSearchParams} parameters
 */
export function describeResponse(url, parameters) {
  const separator = parameters === url.searchParams ? "?" : "#";
  return [`Back at ${url.origin}${url.pathname}${separator}…`, ...describeParameters(parameters)];
}

/**
 * Whether the flow narrates this step.
 *
 * @param {NarratedFlow} flow
 * @param {StepName} name
 */
export function hasStep(flow, name) {
  return flow.steps.some((step) => step.name === name);
}

export class StepLog {
  /** @param {(entries: StepEntry[]) => void} onChange */
  constructor(onChange) {
    /** @type {StepEntry[]} */
    this.entries = [];
    this.onChange = onChange;
  }

  /**
   * Starts the entry of one of the flow's steps.
   *
   * @param {NarratedFlow} flow
   * @param {StepName} name
   * @param {string[]} [lines]
   */
  begin(flow, name, lines = []) {
    const index = flow.steps.findIndex((step) => step.name === name);
    if (index === -1) throw new Error(`The ${flow.name} has no step ${name}.`);
    this.entries.push({
      flowName: flow.name,
      number: index + 1,
      total: flow.steps.length,
      title: flow.steps[index].text,
      lines: [...lines],
      outcome: "done",
    });
    this.onChange(this.entries);
  }

  /**
   * @param {string} text
   * @param {string[]} [lines]
   */
  note(text, lines = []) {
    this.entries.push({
      flowName: null,
      number: null,
      title: text,
      lines: [...lines],
      outcome: "note",
    });
    this.onChange(this.entries);
  }

  /**
   * Adds a line to the latest entry.
   *
   * @param {string} line
   */
  add(line) {
    this.latest().lines.push(line);
    this.onChange(this.entries);
  }

  /**
   * Marks the latest entry as failed, with the reason.
   *
   * @param {{ code: string, description: string }} error
   */
  fail(error) {
    const entry = this.latest();
    entry.outcome = "failed";
    entry.lines.push(`✗ ${error.code}: ${error.description}`);
    this.onChange(this.entries);
  }

  latest() {
    const entry = this.entries.at(-1);
    if (entry === undefined) throw new Error("The steps log is empty.");
    return entry;
  }
}

// @ts-check
// The narrated log of what the app did: each entry is one of the flow's numbered steps (the
// article's wording) with the requests sent and what came back, or a note between steps.
// Code names a step by what happens in it; its number is only its place in the article's list.

import { STEP_ARROWS, failureArrow } from "./sequence_diagram.js";
import { shorten } from "./tokens.js";

/** @typedef {import("./sequence_diagram.js").Arrow} Arrow */
/** @typedef {import("./sequence_diagram.js").ArrowKind} ArrowKind */

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
 * One entry of the log: a numbered step (flowName and number set) or a note (both null), with
 * the arrows it draws in the sequence diagram. `startsFlow`: the diagram starts again here.
 *
 * @typedef {object} StepEntry
 * @property {string | null} flowName
 * @property {number | null} number
 * @property {number} [total]
 * @property {string} title
 * @property {string[]} lines
 * @property {"done" | "failed" | "refused" | "note"} outcome
 * @property {Arrow[]} arrows
 * @property {boolean} startsFlow
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
   * Starts the entry of one of the flow's steps, with the step's arrow in the sequence diagram
   * (its label or kind given when they are not the step's usual ones). A request starts a flow.
   *
   * @param {NarratedFlow} flow
   * @param {StepName} name
   * @param {string[]} [lines]
   * @param {{ label?: string, kind?: ArrowKind }} [arrow]
   */
  begin(flow, name, lines = [], arrow = {}) {
    const index = flow.steps.findIndex((step) => step.name === name);
    if (index === -1) throw new Error(`The ${flow.name} has no step ${name}.`);
    const drawn = { ...STEP_ARROWS[name], ...arrow };
    this.entries.push({
      flowName: flow.name,
      number: index + 1,
      total: flow.steps.length,
      title: flow.steps[index].text,
      lines: [...lines],
      outcome: "done",
      arrows: [{ ...drawn, label: `${index + 1} · ${drawn.label}`, title: flow.steps[index].text }],
      startsFlow: name === "request",
    });
    this.onChange(this.entries);
  }

  /**
   * A note between the steps; with an arrow when it tells of a request or an answer that is
   * not one of the article's steps (a logout, the check for a session on load).
   *
   * @param {string} text
   * @param {string[]} [lines]
   * @param {{ arrow?: Arrow, startsFlow?: boolean }} [options]
   */
  note(text, lines = [], { arrow, startsFlow = false } = {}) {
    this.entries.push({
      flowName: null,
      number: null,
      title: text,
      lines: [...lines],
      outcome: "note",
      arrows: arrow === undefined ? [] : [arrow],
      startsFlow,
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
   * Adds an arrow to the latest entry: the answer to its request.
   *
   * @param {Arrow} arrow
   */
  arrow(arrow) {
    this.latest().arrows.push(arrow);
    this.onChange(this.entries);
  }

  /**
   * Ends the latest entry with a line and an outcome other than "done": "refused" for an
   * answer that says no (the API's 401 and 403), "failed" for one that failed (a 5xx).
   *
   * @param {"refused" | "failed"} outcome
   * @param {string} line
   */
  settle(outcome, line) {
    const entry = this.latest();
    entry.outcome = outcome;
    entry.lines.push(line);
    this.onChange(this.entries);
  }

  /**
   * Marks the latest entry as failed, with the reason, and its red arrow.
   *
   * @param {{ code: string, description: string }} error
   */
  fail(error) {
    const entry = this.latest();
    entry.outcome = "failed";
    entry.lines.push(`✗ ${error.code}: ${error.description}`);
    const red = failureArrow(this.entries.flatMap((each) => each.arrows).at(-1), error.code);
    if (red !== null) entry.arrows.push(red);
    this.onChange(this.entries);
  }

  latest() {
    const entry = this.entries.at(-1);
    if (entry === undefined) throw new Error("The steps log is empty.");
    return entry;
  }
}

// @ts-check
// One error type for everything that can go wrong in a flow, shaped like an OAuth error:
// a short machine-readable code and a sentence for the learner.

export class FlowError extends Error {
  /**
   * @param {string} code
   * @param {string} description
   */
  constructor(code, description) {
    super(`${code}: ${description}`);
    this.name = "FlowError";
    this.code = code;
    this.description = description;
  }
}

// The narrated log of what the app did: each entry is one of the flow's numbered steps (the
// article's wording) with the requests sent and what came back, or a note between steps.

export class StepLog {
  constructor(onChange) {
    this.entries = [];
    this.onChange = onChange;
  }

  begin(flow, number, lines = []) {
    this.entries.push({
      flowName: flow.name,
      number,
      total: flow.steps.length,
      title: flow.steps[number - 1],
      lines: [...lines],
      outcome: "done",
    });
    this.onChange(this.entries);
  }

  note(text, lines = []) {
    this.entries.push({ flowName: null, number: null, title: text, lines: [...lines], outcome: "note" });
    this.onChange(this.entries);
  }

  // Adds a line to the latest entry.
  add(line) {
    this.entries.at(-1).lines.push(line);
    this.onChange(this.entries);
  }

  // Marks the latest entry as failed, with the reason.
  fail(error) {
    const entry = this.entries.at(-1);
    entry.outcome = "failed";
    entry.lines.push(`✗ ${error.code}: ${error.description}`);
    this.onChange(this.entries);
  }
}

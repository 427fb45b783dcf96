// @ts-check
// The flow as a live sequence diagram: three lanes (the browser running this app, the
// authorization server, the API) and one arrow per request or answer, drawn as the steps panel
// narrates it, labelled with the article's step. The same drawing for the three modes, so their
// differences are seen: the implicit grant's tokens come back in one arrow, code + PKCE needs a
// second round trip to the token endpoint, the SDK's answers come by postMessage.
//
// Drawn with the DOM's own SVG elements (no third-party script, no innerHTML); every colour and
// dash is a CSS class of style.css, as the page's CSP (style-src 'self') wants.

const SVG = "http://www.w3.org/2000/svg";

/** @typedef {"browser" | "issuer" | "api"} Lane */

/**
 * request: a request sent; response: its answer; error: a refusal or a failure (red);
 * neutral: an expected "no" (no session at the issuer), neither success nor error.
 *
 * @typedef {"request" | "response" | "error" | "neutral"} ArrowKind
 */

/**
 * One arrow of the diagram. `from` equal to `to` is an arrow to itself: something that lane
 * does on its own (the user's authentication at the issuer, a check in the app).
 *
 * @typedef {object} Arrow
 * @property {Lane} from
 * @property {Lane} to
 * @property {string} label
 * @property {ArrowKind} kind
 * @property {string} [title] Shown on hover: the article's sentence for the step.
 */

/** @type {{ id: Lane, name: string }[]} */
export const LANES = [
  { id: "browser", name: "Browser / App" },
  { id: "issuer", name: "Authorization server" },
  { id: "api", name: "API" },
];

/**
 * The arrow each of the article's steps draws, unless the step names its own label or kind.
 *
 * @type {Record<import("./steps.js").StepName, Omit<Arrow, "title">>}
 */
export const STEP_ARROWS = {
  request: { from: "browser", to: "issuer", label: "GET /authorize", kind: "request" },
  authentication: { from: "issuer", to: "issuer", label: "the user signs in", kind: "request" },
  response: { from: "issuer", to: "browser", label: "redirect to /callback", kind: "response" },
  token_request: { from: "browser", to: "issuer", label: "POST /oauth/token", kind: "request" },
  token_response: { from: "issuer", to: "browser", label: "tokens", kind: "response" },
  api_call: { from: "browser", to: "api", label: "call the API", kind: "request" },
};

/**
 * The red arrow of a failure: back from where the last request went, or, when the last arrow
 * already came back to the app (the app itself refused what it got), the app's own check.
 * None when the last arrow is already an error (the refusal came as an answer).
 *
 * @param {Arrow | undefined} last
 * @param {string} code
 * @returns {Arrow | null}
 */
export function failureArrow(last, code) {
  if (last?.kind === "error") return null;
  const from = last === undefined || last.to === "browser" ? "browser" : last.to;
  return { from, to: "browser", label: `✗ ${code}`, kind: "error" };
}

const WIDTH = 640;
const TOP = 56;
const ROW = 34;
const LOOP = 36;
const LABEL_CHARS = 44;
/** @type {Record<Lane, number>} */
const LANE_X = { browser: 100, issuer: 320, api: 540 };

/**
 * @param {string} tag
 * @param {Record<string, string | number>} attributes
 * @param {(Node | string)[]} [children]
 */
function svgElement(tag, attributes, children = []) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  node.append(...children);
  return node;
}

/** @param {string} text */
function clipped(text) {
  return text.length > LABEL_CHARS ? `${text.slice(0, LABEL_CHARS - 1)}…` : text;
}

/** @param {number} height */
function laneHeads(height) {
  return LANES.flatMap(({ id, name }) => [
    svgElement("line", {
      class: "lifeline",
      x1: LANE_X[id],
      y1: 34,
      x2: LANE_X[id],
      y2: height - 8,
    }),
    svgElement("rect", { class: "lane-head", x: LANE_X[id] - 92, y: 6, width: 184, height: 28 }),
    svgElement("text", { class: "lane-name", x: LANE_X[id], y: 25 }, [name]),
  ]);
}

/**
 * The arrowhead at (x, y) pointing right (direction 1) or left (-1).
 *
 * @param {number} x
 * @param {number} y
 * @param {number} direction
 */
function head(x, y, direction) {
  const back = x - 9 * direction;
  return svgElement("polygon", {
    class: "head",
    points: `${x},${y} ${back},${y - 5} ${back},${y + 5}`,
  });
}

/**
 * @param {Arrow} arrow
 * @param {number} y
 */
function arrowShape(arrow, y) {
  const x1 = LANE_X[arrow.from];
  const x2 = LANE_X[arrow.to];
  if (x1 === x2) {
    return {
      shapes: [
        svgElement("path", {
          class: "shaft",
          d: `M ${x1} ${y - 8} h ${LOOP} v 14 h ${-LOOP + 9}`,
        }),
        head(x1, y + 6, -1),
      ],
      label: { x: x1 + LOOP + 6, y: y + 2, anchor: "start" },
    };
  }
  const direction = x2 > x1 ? 1 : -1;
  return {
    shapes: [
      svgElement("line", { class: "shaft", x1, y1: y, x2: x2 - 9 * direction, y2: y }),
      head(x2, y, direction),
    ],
    label: { x: (x1 + x2) / 2, y: y - 6, anchor: "middle" },
  };
}

/**
 * @param {Arrow} arrow
 * @param {number} index
 */
function arrowGroup(arrow, index) {
  const { shapes, label } = arrowShape(arrow, TOP + index * ROW + 14);
  const group = svgElement(
    "g",
    {
      class: `arrow ${arrow.kind}`,
      "data-testid": "arrow",
      "data-from": arrow.from,
      "data-to": arrow.to,
      "data-kind": arrow.kind,
      "data-label": arrow.label,
    },
    [
      svgElement("title", {}, [arrow.title ? `${arrow.label}\n${arrow.title}` : arrow.label]),
      ...shapes,
      svgElement("text", { class: "label", x: label.x, y: label.y, "text-anchor": label.anchor }, [
        clipped(arrow.label),
      ]),
    ],
  );
  return group;
}

/**
 * Draws `arrows` into `svg`, replacing what was there.
 *
 * @param {SVGSVGElement} svg
 * @param {Arrow[]} arrows
 */
export function drawDiagram(svg, arrows) {
  const rows = Math.max(arrows.length, 1);
  const height = TOP + rows * ROW + 16;
  svg.setAttribute("viewBox", `0 0 ${WIDTH} ${height}`);
  svg.dataset.arrows = String(arrows.length);
  const empty =
    arrows.length === 0
      ? [
          svgElement("text", { class: "empty-note", x: WIDTH / 2, y: TOP + 18 }, [
            "No request yet: each request of the next flow is drawn here as it is sent.",
          ]),
        ]
      : [];
  svg.replaceChildren(...laneHeads(height), ...arrows.map(arrowGroup), ...empty);
}

/**
 * The arrows of the current flow: those of the entries from the last one that started a flow
 * (a login, a silent authentication, a logout) on; everything before belongs to an older flow.
 *
 * @param {import("./steps.js").StepEntry[]} entries
 */
export function flowArrows(entries) {
  let start = entries.length - 1;
  while (start > 0 && !entries[start].startsFlow) start -= 1;
  return entries.slice(Math.max(start, 0)).flatMap((entry) => entry.arrows);
}

/**
 * A tiny DOM builder: `h("button", { class: "x", onclick }, "Send")`. No
 * virtual DOM; views keep references to the elements they update.
 *
 * @module
 */

type Child = Node | string | number | false | null | undefined;
type Attrs = Record<string, unknown>;

/**
 * Creates an element. Attributes starting with `on` become listeners,
 * `class`/`text`/`html`-free: strings are set as attributes (true → "",
 * false/undefined → absent), `dataset` and `style` objects are merged.
 * Children that are strings become text nodes (never parsed as HTML).
 *
 * @example
 * h("label", { for: "name" }, "Your name");
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false || value === null) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value as EventListener);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "style" && typeof value === "object") {
      Object.assign(el.style, value);
    } else if (key === "value" && "value" in el) {
      (el as HTMLInputElement).value = String(value);
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, ...children);
  return el;
}

/** Appends children (strings as text). */
export function append(parent: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === false || c === null || c === undefined) continue;
    parent.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
  }
}

/** Replaces all children of `parent`. */
export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, ...children);
}

/** An inline SVG icon from a path list (24×24 viewBox, stroked). */
export function icon(name: keyof typeof iconPaths, label?: string): SVGSVGElement {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", "icon");
  if (label) {
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", label);
  } else {
    svg.setAttribute("aria-hidden", "true");
  }
  for (const d of iconPaths[name]) {
    const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", d);
    svg.appendChild(path);
  }
  return svg;
}

const iconPaths = {
  send: ["M4 12 20 4l-6 16-3-7-7-1Z", "m11 13 9-9"],
  paperclip: ["M20 11.5 12.5 19a5 5 0 0 1-7-7l8-8a3.5 3.5 0 0 1 5 5l-8 8a2 2 0 0 1-3-3l7-7"],
  download: ["M12 4v11", "m7 10 5 5 5-5", "M5 20h14"],
  file: ["M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8Z", "M14 3v5h5"],
  hash: ["M5 9h14", "M5 15h14", "M10 4 8 20", "M16 4l-2 16"],
  plus: ["M12 5v14", "M5 12h14"],
  users: [
    "M16 20v-1.5a3.5 3.5 0 0 0-3.5-3.5h-5A3.5 3.5 0 0 0 4 18.5V20",
    "M10 11a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7Z",
    "M20 20v-1.5a3.5 3.5 0 0 0-2.5-3.3",
    "M15.5 4.2a3.5 3.5 0 0 1 0 6.6",
  ],
  menu: ["M4 6h16", "M4 12h16", "M4 18h16"],
  x: ["M6 6l12 12", "M18 6 6 18"],
  logout: ["M15 4h3a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2h-3", "M10 16l-4-4 4-4", "M6 12h10"],
  retry: [
    "M4 12a8 8 0 0 1 14-5.3L20 9",
    "M20 4v5h-5",
    "M20 12a8 8 0 0 1-14 5.3L4 15",
    "M4 20v-5h5",
  ],
  alert: [
    "M12 9v4",
    "M12 17h.01",
    "M10.3 4 2.8 17a2 2 0 0 0 1.7 3h15a2 2 0 0 0 1.7-3L13.7 4a2 2 0 0 0-3.4 0Z",
  ],
  check: ["m5 12 5 5 9-10"],
} as const;

/**
 * The room header: the room's name, who is here (toggles the members
 * panel), and the connection state (live / reconnecting / offline) that
 * tells whether what is on screen is current.
 *
 * @module
 */
import { h, icon } from "../dom.js";
import type { ConnectionState } from "../live-feed.js";

/** The header view. */
export interface Header {
  readonly element: HTMLElement;
  setRoom(room: string | undefined): void;
  setMemberCount(count: number | undefined): void;
  setConnection(state: ConnectionState, detail?: string): void;
  setPanels(state: { sidebarOpen: boolean; membersOpen: boolean }): void;
}

const connectionText: Record<ConnectionState, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};

/**
 * Creates the header.
 *
 * @example
 * const header = createHeader({ toggleSidebar, toggleMembers });
 */
export function createHeader(actions: { toggleSidebar(): void; toggleMembers(): void }): Header {
  const menu = h(
    "button",
    {
      type: "button",
      class: "icon-button menu-button",
      "aria-label": "Show rooms",
      "aria-controls": "sidebar",
      "aria-expanded": "false",
      onclick: () => actions.toggleSidebar(),
    },
    icon("menu"),
  );
  const title = h("h1", { class: "room-title" });
  const count = h("span", { class: "member-count" });
  const members = h(
    "button",
    {
      type: "button",
      class: "chip-button",
      "aria-controls": "members",
      "aria-expanded": "true",
      onclick: () => actions.toggleMembers(),
    },
    icon("users"),
    count,
  );
  const dot = h("span", { class: "dot", "aria-hidden": "true" });
  const label = h("span", { class: "connection-label" });
  const connection = h(
    "div",
    {
      class: "connection",
      role: "status",
      "aria-live": "polite",
      dataset: { state: "connecting" },
    },
    dot,
    label,
  );
  const element = h(
    "header",
    { class: "room-header" },
    menu,
    title,
    h("div", { class: "header-spacer" }),
    connection,
    members,
  );
  return {
    element,
    setRoom(room) {
      title.replaceChildren(
        ...(room
          ? [h("span", { class: "room-hash", "aria-hidden": "true" }, "#"), room]
          : ["No room"]),
      );
      members.hidden = room === undefined;
    },
    setMemberCount(n) {
      count.textContent = n === undefined ? "—" : String(n);
      members.setAttribute(
        "aria-label",
        n === undefined ? "People here: unknown" : `${n} ${n === 1 ? "person" : "people"} here`,
      );
      members.title = "Who is here";
    },
    setConnection(state, detail) {
      connection.dataset.state = state;
      label.textContent = connectionText[state];
      connection.title = detail ?? connectionText[state];
    },
    setPanels({ sidebarOpen, membersOpen }) {
      menu.setAttribute("aria-expanded", String(sidebarOpen));
      members.setAttribute("aria-expanded", String(membersOpen));
    },
  };
}

/**
 * The sidebar: brand, "join a room" form, the list of rooms with unread
 * counts, and the signed-in user with a sign-out button.
 *
 * @module
 */
import { h, icon } from "../dom.js";
import { roomNamePattern } from "../format.js";
import { avatar } from "./message-item.js";

/** One row of the room list. */
export interface RoomRow {
  readonly name: string;
  readonly unread: number;
}

/** What the sidebar's controls do. */
export interface SidebarActions {
  /** Returns an error to show, or undefined when the room was joined. */
  join(room: string): string | undefined;
  open(room: string): void;
  leave(room: string): void;
  signOut(): void;
}

/** The sidebar view. */
export interface Sidebar {
  readonly element: HTMLElement;
  render(rooms: readonly RoomRow[], active: string | undefined): void;
  focusJoin(): void;
}

/**
 * Creates the sidebar for a user.
 *
 * @example
 * const sidebar = createSidebar({ id: "ada", name: "Ada" }, actions);
 */
export function createSidebar(
  user: { id: string; name: string },
  actions: SidebarActions,
): Sidebar {
  const input = h("input", {
    id: "join-room",
    name: "room",
    type: "text",
    placeholder: "room-name",
    autocomplete: "off",
    spellcheck: "false",
    maxlength: "128",
    "aria-describedby": "join-room-error",
  });
  const error = h("p", { id: "join-room-error", class: "field-error", role: "alert" });
  const form = h(
    "form",
    { class: "join-form" },
    h("label", { for: "join-room", class: "section-label" }, "Join a room"),
    h(
      "div",
      { class: "join-row" },
      h("span", { class: "join-hash", "aria-hidden": "true" }, "#"),
      input,
      h(
        "button",
        { type: "submit", class: "icon-button", "aria-label": "Join room", title: "Join (Enter)" },
        icon("plus"),
      ),
    ),
    error,
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const name = input.value.trim().replace(/^#/, "");
    if (!roomNamePattern.test(name)) {
      error.textContent = "Use 1-128 letters, digits or . _ : @ -";
      return;
    }
    const problem = actions.join(name);
    error.textContent = problem ?? "";
    if (!problem) input.value = "";
  });
  input.addEventListener("input", () => {
    error.textContent = "";
  });

  const list = h("ul", { class: "room-list", "aria-label": "Rooms" });
  const element = h(
    "nav",
    { class: "sidebar", id: "sidebar", "aria-label": "Rooms and account" },
    h(
      "div",
      { class: "brand" },
      h("img", { src: "/favicon.svg", alt: "", width: "28", height: "28" }),
      h("span", {}, "Switchboard"),
    ),
    form,
    h("h2", { class: "section-label", id: "rooms-heading" }, "Rooms"),
    list,
    h(
      "div",
      { class: "me" },
      avatar(user.id, user.name, "sm"),
      h(
        "div",
        { class: "me-text" },
        h("span", { class: "me-name" }, user.name),
        h("span", { class: "me-id" }, `@${user.id}`),
      ),
      h(
        "button",
        {
          type: "button",
          class: "icon-button",
          "aria-label": "Sign out",
          title: "Sign out",
          onclick: () => actions.signOut(),
        },
        icon("logout"),
      ),
    ),
  );

  return {
    element,
    render(rooms, active) {
      list.replaceChildren(
        ...rooms.map((r) => {
          const current = r.name === active;
          const label = r.unread > 0 ? `${r.name}, ${r.unread} unread` : r.name;
          return h(
            "li",
            { class: `room${current ? " active" : ""}${r.unread > 0 ? " has-unread" : ""}` },
            h(
              "button",
              {
                type: "button",
                class: "room-button",
                "aria-current": current ? "page" : undefined,
                "aria-label": label,
                dataset: { room: r.name },
                onclick: () => actions.open(r.name),
              },
              h("span", { class: "room-hash", "aria-hidden": "true" }, "#"),
              h("span", { class: "room-name" }, r.name),
              r.unread > 0 &&
                h(
                  "span",
                  { class: "badge", "aria-hidden": "true" },
                  r.unread > 99 ? "99+" : String(r.unread),
                ),
            ),
            h(
              "button",
              {
                type: "button",
                class: "icon-button room-leave",
                "aria-label": `Leave #${r.name}`,
                title: "Leave room",
                onclick: () => actions.leave(r.name),
              },
              icon("x"),
            ),
          );
        }),
      );
    },
    focusJoin() {
      input.focus();
    },
  };
}

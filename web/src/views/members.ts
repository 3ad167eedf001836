/**
 * The members panel: who is in the current room right now.
 *
 * @module
 */
import type { User } from "../../../src/gen/switchboard/chat/v1/chat_pb.js";
import { h } from "../dom.js";
import type { PresenceStatus } from "../presence.js";
import { avatar } from "./message-item.js";

/** The members panel view. */
export interface MembersPanel {
  readonly element: HTMLElement;
  render(members: readonly User[] | undefined, status: PresenceStatus, me: string): void;
}

/**
 * Creates the panel.
 *
 * @example
 * const panel = createMembersPanel(); panel.render(users, "connected", "ada");
 */
export function createMembersPanel(): MembersPanel {
  const heading = h("h2", { class: "section-label", id: "members-heading" }, "In this room");
  const list = h("ul", { class: "member-list", "aria-labelledby": "members-heading" });
  const note = h("p", { class: "muted small" });
  const element = h(
    "aside",
    { class: "members", id: "members", "aria-label": "People in this room" },
    heading,
    list,
    note,
  );
  return {
    element,
    render(members, status, me) {
      element.classList.toggle("stale", status !== "connected");
      const sorted = [...(members ?? [])].sort((a, b) =>
        a.id === me ? -1 : b.id === me ? 1 : a.displayName.localeCompare(b.displayName),
      );
      heading.textContent = members ? `In this room · ${members.length}` : "In this room";
      list.replaceChildren(
        ...sorted.map((u) =>
          h(
            "li",
            { class: "member", dataset: { userId: u.id } },
            h(
              "span",
              { class: "presence-wrap" },
              avatar(u.id, u.displayName || u.id, "sm"),
              h("span", { class: "presence-dot", "aria-hidden": "true" }),
            ),
            h(
              "span",
              { class: "member-name" },
              u.displayName || u.id,
              u.id === me && h("span", { class: "muted" }, " (you)"),
            ),
          ),
        ),
      );
      note.textContent =
        status === "connected"
          ? members === undefined
            ? "Joining…"
            : ""
          : status === "connecting"
            ? "Connecting to presence…"
            : "Presence is unavailable right now; retrying.";
    },
  };
}

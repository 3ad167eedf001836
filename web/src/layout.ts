/**
 * The app's frame: sidebar, room pane (header, timeline, composer) and the
 * members panel; the drawers on narrow screens; drag-and-drop of files onto
 * the room; and the keyboard shortcuts.
 *
 * @module
 */
import { h, icon } from "./dom.js";
import type { Composer } from "./views/composer.js";
import type { Header } from "./views/header.js";
import type { MembersPanel } from "./views/members.js";
import type { Sidebar } from "./views/sidebar.js";

/** The mounted frame. */
export interface Layout {
  /** Shows a room's timeline (or the empty state when undefined). */
  showTimeline(timeline: HTMLElement | undefined): void;
  toggleSidebar(): void;
  toggleMembers(): void;
  closeDrawers(): void;
  /** Sets the room drop-target label. */
  setDropRoom(room: string | undefined): void;
  /** Removes listeners. */
  destroy(): void;
}

/** What the frame needs. */
export interface LayoutParts {
  readonly sidebar: Sidebar;
  readonly header: Header;
  readonly composer: Composer;
  readonly members: MembersPanel;
  /** Alt+ArrowUp / Alt+ArrowDown. */
  readonly moveRoom: (delta: number) => void;
}

/**
 * Mounts the frame into `root`.
 *
 * @example
 * const layout = mountLayout(root, { sidebar, header, composer, members, moveRoom });
 */
export function mountLayout(root: HTMLElement, parts: LayoutParts): Layout {
  const slot = h("div", { class: "timeline-slot" });
  const dropLabel = h("p", {});
  const overlay = h(
    "div",
    { class: "drop-overlay", hidden: true, "aria-hidden": "true" },
    h("div", { class: "drop-box" }, icon("paperclip"), dropLabel),
  );
  const pane = h(
    "main",
    { class: "room-pane", id: "room-pane" },
    parts.header.element,
    slot,
    parts.composer.element,
    overlay,
  );
  const scrim = h("div", { class: "scrim", "aria-hidden": "true" });
  const shell = h(
    "div",
    { class: "shell" },
    parts.sidebar.element,
    pane,
    parts.members.element,
    scrim,
  );
  root.replaceChildren(shell);

  const narrow = window.matchMedia("(max-width: 1100px)");
  let sidebarOpen = false;
  let membersOpen = !narrow.matches;
  const sync = () => {
    shell.classList.toggle("sidebar-open", sidebarOpen);
    shell.classList.toggle("members-open", membersOpen);
    shell.classList.toggle("members-closed", !membersOpen);
    parts.header.setPanels({ sidebarOpen, membersOpen });
  };
  sync();
  const onNarrow = () => {
    membersOpen = !narrow.matches;
    sync();
  };
  narrow.addEventListener("change", onNarrow);
  const layout: Layout = {
    showTimeline(timeline) {
      slot.replaceChildren(
        timeline ??
          h(
            "div",
            { class: "empty-state" },
            h("div", { class: "beginning-icon" }, icon("hash")),
            h("h2", {}, "No room open"),
            h("p", { class: "muted" }, "Join a room from the sidebar to start chatting."),
          ),
      );
    },
    toggleSidebar() {
      sidebarOpen = !sidebarOpen;
      sync();
    },
    toggleMembers() {
      membersOpen = !membersOpen;
      sync();
    },
    closeDrawers() {
      sidebarOpen = false;
      if (narrow.matches) membersOpen = false;
      sync();
    },
    setDropRoom(room) {
      dropLabel.textContent = room ? `Drop files to share in #${room}` : "Join a room first";
    },
    destroy() {
      narrow.removeEventListener("change", onNarrow);
      document.removeEventListener("keydown", onKey);
    },
  };
  scrim.addEventListener("click", () => layout.closeDrawers());

  // Files dragged onto the room pane.
  let depth = 0;
  const hasFiles = (ev: DragEvent) => ev.dataTransfer?.types.includes("Files") ?? false;
  pane.addEventListener("dragenter", (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault();
    depth++;
    overlay.hidden = false;
  });
  pane.addEventListener("dragover", (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault();
    if (ev.dataTransfer) ev.dataTransfer.dropEffect = "copy";
  });
  pane.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) overlay.hidden = true;
  });
  pane.addEventListener("drop", (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault();
    depth = 0;
    overlay.hidden = true;
    parts.composer.addFiles([...(ev.dataTransfer?.files ?? [])]);
  });

  const onKey = (ev: KeyboardEvent) => {
    if (ev.altKey && (ev.key === "ArrowUp" || ev.key === "ArrowDown")) {
      ev.preventDefault();
      parts.moveRoom(ev.key === "ArrowUp" ? -1 : 1);
    } else if ((ev.ctrlKey || ev.metaKey) && ev.key.toLowerCase() === "k") {
      ev.preventDefault();
      sidebarOpen = narrow.matches;
      sync();
      parts.sidebar.focusJoin();
    } else if (ev.key === "Escape" && (sidebarOpen || (narrow.matches && membersOpen))) {
      layout.closeDrawers();
      parts.composer.focus();
    }
  };
  document.addEventListener("keydown", onKey);
  return layout;
}

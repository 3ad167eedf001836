/**
 * A room's timeline: its messages in offset order (ours on their way at the
 * end), grouped by author and day, with "load earlier", a notice line, and a
 * "new messages" jump button. Each room keeps its own timeline element, so
 * switching rooms keeps every room's scroll position.
 *
 * @module
 */
import { h, icon } from "../dom.js";
import {
  type MessageActions,
  type MessageModel,
  renderMessage,
  updateMessage,
} from "./message-item.js";

/** "Load earlier" state: more exist, loading, or this is the beginning. */
export type OlderState = "more" | "loading" | "none";

/** One room's timeline. */
export interface Timeline {
  /** The element to mount in the main pane. */
  readonly element: HTMLElement;
  /** Inserts or updates a message (moves it when its offset becomes known). */
  put(m: MessageModel): void;
  /** Whether a message with this key is shown. */
  has(key: string): boolean;
  /** Removes every stored message (keeps ours that are on their way). */
  clearStored(): void;
  /** The lowest offset shown, for "load earlier". */
  oldestOffset(): bigint | undefined;
  setNotice(text: string | undefined): void;
  setOlder(state: OlderState): void;
  /** Call after mounting: restores the saved scroll position. */
  mounted(): void;
  scrollToBottom(): void;
}

/** Options of {@link createTimeline}. */
export interface TimelineOptions {
  readonly room: string;
  readonly actions: MessageActions;
  readonly onLoadOlder: () => void;
}

/** Closer than this to the bottom counts as "at the bottom", in pixels. */
const bottomSlackPx = 48;
/** Messages of one author closer than this are grouped. */
const groupWindowMs = 5 * 60_000;

/**
 * Creates an empty timeline.
 *
 * @example
 * const tl = createTimeline({ room: "general", actions, onLoadOlder });
 */
export function createTimeline(opts: TimelineOptions): Timeline {
  const items = new Map<string, HTMLLIElement>();
  const list = h("ol", { class: "messages" });
  const olderButton = h(
    "button",
    { type: "button", class: "ghost-button", onclick: () => opts.onLoadOlder() },
    "Load earlier messages",
  );
  const beginning = h(
    "div",
    { class: "beginning", hidden: true },
    h("div", { class: "beginning-icon" }, icon("hash")),
    h("h2", {}, `Welcome to #${opts.room}`),
    h("p", {}, "This is the start of the room. Say hello!"),
  );
  const notice = h("div", { class: "notice", role: "status", hidden: true });
  const scroller = h(
    "section",
    { class: "timeline", role: "log", "aria-label": `Messages in #${opts.room}`, tabindex: "0" },
    h("div", { class: "timeline-top" }, beginning, olderButton),
    notice,
    list,
  );
  let unseen = 0;
  const jump = h(
    "button",
    { type: "button", class: "jump", hidden: true, onclick: () => scrollToBottom() },
    "New messages ↓",
  );
  const element = h("div", { class: "timeline-wrap" }, scroller, jump);
  let atBottom = true;
  let savedTop = 0;

  scroller.addEventListener("scroll", () => {
    if (!scroller.isConnected) return;
    atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < bottomSlackPx;
    savedTop = scroller.scrollTop;
    if (atBottom) {
      unseen = 0;
      jump.hidden = true;
    }
  });

  const scrollToBottom = () => {
    scroller.scrollTop = scroller.scrollHeight;
    atBottom = true;
    unseen = 0;
    jump.hidden = true;
  };

  const offsetOf = (li: Element): bigint | undefined => {
    const o = (li as HTMLElement).dataset.offset;
    return o ? BigInt(o) : undefined;
  };

  /** Author grouping and day labels of one element, from its previous sibling. */
  const regroup = (li: Element | null) => {
    if (!(li instanceof HTMLLIElement)) return;
    const prev = li.previousElementSibling as HTMLLIElement | null;
    const newDay = !prev || prev.dataset.day !== li.dataset.day;
    const sameAuthor =
      !!prev &&
      !newDay &&
      prev.dataset.sender === li.dataset.sender &&
      Number(li.dataset.timeMs) - Number(prev.dataset.timeMs) < groupWindowMs;
    li.classList.toggle("new-day", newDay && list.firstElementChild !== li);
    li.classList.toggle("continued", sameAuthor);
  };

  const place = (li: HTMLLIElement, offset: bigint | undefined) => {
    if (offset === undefined) {
      list.append(li);
      return;
    }
    // Usually the newest: scan from the end, skipping ours on their way.
    let after: Element | null = list.lastElementChild;
    while (after) {
      const o = offsetOf(after);
      if (o !== undefined && o < offset) break;
      after = after.previousElementSibling;
    }
    if (after) after.after(li);
    else list.prepend(li);
  };

  return {
    element,
    put(m) {
      const existing = items.get(m.key);
      const wasAtBottom = atBottom;
      const isNew = existing === undefined;
      const li = existing ?? renderMessage(m, opts.actions);
      if (existing) updateMessage(existing, m, opts.actions);
      if (isNew || existing.dataset.placed !== String(m.offset)) {
        li.dataset.placed = String(m.offset);
        const oldNext = li.nextElementSibling;
        place(li, m.offset);
        regroup(oldNext);
      }
      items.set(m.key, li);
      regroup(li);
      regroup(li.nextElementSibling);
      if (!isNew || !scroller.isConnected) {
        if (isNew && !wasAtBottom && !m.mine) unseen++;
        return;
      }
      const isNewest = li === list.lastElementChild || m.offset === undefined;
      if (isNewest && (wasAtBottom || m.mine)) scrollToBottom();
      else if (isNewest) {
        unseen++;
        jump.hidden = false;
        jump.textContent = `${unseen} new message${unseen === 1 ? "" : "s"} ↓`;
      }
    },
    has: (key) => items.has(key),
    clearStored() {
      for (const [key, li] of items) {
        if (li.dataset.offset === "") continue;
        li.remove();
        items.delete(key);
      }
      regroup(list.firstElementChild);
    },
    oldestOffset() {
      for (const li of list.children) {
        const o = offsetOf(li);
        if (o !== undefined) return o;
      }
      return undefined;
    },
    setNotice(text) {
      notice.hidden = text === undefined;
      notice.replaceChildren(icon("alert"), h("span", {}, text ?? ""));
    },
    setOlder(state) {
      olderButton.hidden = state === "none";
      olderButton.disabled = state === "loading";
      olderButton.textContent = state === "loading" ? "Loading…" : "Load earlier messages";
      beginning.hidden = state !== "none";
    },
    mounted() {
      if (atBottom) scrollToBottom();
      else scroller.scrollTop = savedTop;
      if (unseen > 0 && !atBottom) {
        jump.hidden = false;
        jump.textContent = `${unseen} new message${unseen === 1 ? "" : "s"} ↓`;
      }
    },
    scrollToBottom,
  };
}

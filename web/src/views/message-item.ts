/**
 * One message in a timeline: avatar, author, time, text (with links), file
 * attachments with a download button and progress, and the state of a
 * message of ours on its way ("Sending…", "Not sent · Retry").
 *
 * @module
 */
import type { FileInfo } from "../../../src/gen/switchboard/chat/v1/chat_pb.js";
import { h, icon } from "../dom.js";
import { formatBytes, formatDay, formatFullTime, formatTime, hueFor, initials } from "../format.js";

/** What a timeline shows of a message. */
export interface MessageModel {
  /** Stable key: `c:<client_message_id>` for our own messages, else `m:<id>`. */
  readonly key: string;
  /** Offset once stored; undefined while on its way. */
  offset: bigint | undefined;
  readonly senderId: string;
  readonly senderName: string;
  readonly text: string;
  readonly attachments: readonly FileInfo[];
  timeMs: number;
  status: "sent" | "sending" | "failed";
  error?: string | undefined;
  readonly mine: boolean;
  readonly clientMessageId: string;
}

/** What a message's buttons do. */
export interface MessageActions {
  retry(clientMessageId: string): void;
  download(file: FileInfo, progress: (done: number, total: number) => void): Promise<void>;
}

/**
 * Builds the element of a message.
 *
 * @example
 * list.append(renderMessage(model, actions));
 */
export function renderMessage(m: MessageModel, actions: MessageActions): HTMLLIElement {
  const li = h("li", { class: "msg", dataset: { key: m.key } });
  updateMessage(li, m, actions);
  return li;
}

/** Re-renders a message element in place (status change, confirmation). */
export function updateMessage(li: HTMLLIElement, m: MessageModel, actions: MessageActions): void {
  li.className = `msg${m.mine ? " mine" : ""}${m.status !== "sent" ? ` ${m.status}` : ""}`;
  li.dataset.offset = m.offset === undefined ? "" : String(m.offset);
  li.dataset.sender = m.senderId;
  li.dataset.day = new Date(m.timeMs).toDateString();
  li.dataset.dayLabel = formatDay(m.timeMs);
  li.dataset.timeMs = String(m.timeMs);
  const status =
    m.status === "sending"
      ? h("span", { class: "status" }, "Sending…")
      : m.status === "failed"
        ? h("span", { class: "status" }, "Not sent")
        : undefined;
  const failure =
    m.status === "failed" &&
    h(
      "div",
      { class: "send-error", role: "alert" },
      icon("alert"),
      h("span", {}, m.error ? `Not sent: ${m.error}` : "Not sent."),
      h(
        "button",
        {
          type: "button",
          class: "link-button",
          onclick: () => actions.retry(m.clientMessageId),
        },
        "Retry",
      ),
    );
  li.replaceChildren(
    avatar(m.senderId, m.senderName),
    h(
      "div",
      { class: "msg-body" },
      h(
        "div",
        { class: "meta" },
        h("span", { class: "author" }, m.senderName),
        h(
          "time",
          { datetime: new Date(m.timeMs).toISOString(), title: formatFullTime(m.timeMs) },
          formatTime(m.timeMs),
        ),
        status,
      ),
      m.text !== "" && h("div", { class: "text" }, ...linkify(m.text)),
      m.attachments.length > 0 &&
        h("ul", { class: "attachments" }, ...m.attachments.map((f) => renderFile(f, actions))),
      failure,
    ),
  );
}

/** A round avatar with initials, coloured by user id. */
export function avatar(userId: string, name: string, size: "md" | "sm" = "md"): HTMLElement {
  const el = h("div", { class: `avatar avatar-${size}`, "aria-hidden": "true" }, initials(name));
  el.style.setProperty("--hue", String(hueFor(userId)));
  return el;
}

function renderFile(file: FileInfo, actions: MessageActions): HTMLLIElement {
  const bar = h("progress", {
    max: 1,
    value: 0,
    hidden: true,
    "aria-label": `Downloading ${file.name}`,
  });
  const note = h("span", { class: "file-note", "aria-live": "polite" });
  const button = h(
    "button",
    {
      type: "button",
      class: "icon-button",
      "aria-label": `Download ${file.name}`,
      title: "Download",
    },
    icon("download"),
  );
  button.addEventListener("click", () => {
    button.disabled = true;
    bar.hidden = false;
    note.textContent = "";
    actions
      .download(file, (done, total) => {
        bar.value = total > 0 ? done / total : 1;
      })
      .then(
        () => {
          note.textContent = "Downloaded";
        },
        (err: unknown) => {
          note.textContent = `Download failed: ${err instanceof Error ? err.message : String(err)}`;
          note.classList.add("error");
        },
      )
      .finally(() => {
        button.disabled = false;
        bar.hidden = true;
      });
  });
  return h(
    "li",
    { class: "file-card", dataset: { fileId: file.id } },
    h("div", { class: "file-icon" }, icon("file")),
    h(
      "div",
      { class: "file-info" },
      h("span", { class: "file-name", title: file.name }, file.name),
      h(
        "span",
        { class: "file-size" },
        `${formatBytes(file.size)}${file.contentType ? ` · ${file.contentType}` : ""}`,
      ),
      bar,
      note,
    ),
    button,
  );
}

/** Text with http(s) URLs as links (text nodes only: never parsed as HTML). */
function linkify(text: string): (string | HTMLAnchorElement)[] {
  const out: (string | HTMLAnchorElement)[] = [];
  let last = 0;
  for (const match of text.matchAll(/\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g)) {
    const start = match.index ?? 0;
    if (start > last) out.push(text.slice(last, start));
    out.push(h("a", { href: match[0], target: "_blank", rel: "noopener noreferrer" }, match[0]));
    last = start + match[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

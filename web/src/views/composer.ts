/**
 * The composer: a message box (Enter sends, Shift+Enter adds a line), an
 * attach button, and the files being uploaded with their progress. Each room
 * keeps its own draft. Files upload as soon as they are picked, dropped or
 * pasted; the message is posted with them once they are all stored.
 *
 * @module
 */
import { ConnectError } from "@connectrpc/connect";
import type { FileInfo } from "../../../src/gen/switchboard/chat/v1/chat_pb.js";
import { h, icon } from "../dom.js";
import { formatBytes } from "../format.js";

/** What the composer asks of the app. */
export interface ComposerActions {
  upload(
    file: File,
    room: string,
    onProgress: (done: number, total: number) => void,
    signal: AbortSignal,
  ): Promise<FileInfo>;
  send(room: string, text: string, attachments: FileInfo[]): void;
}

/** The composer view. */
export interface Composer {
  readonly element: HTMLElement;
  /** Switches to a room's draft; `canPost` false makes the composer read-only. */
  setRoom(room: string | undefined, canPost?: boolean): void;
  addFiles(files: Iterable<File>): void;
  focus(): void;
}

interface Upload {
  readonly file: File;
  done: number;
  status: "uploading" | "done" | "failed";
  info?: FileInfo;
  error?: string;
  readonly abort: AbortController;
}

interface Draft {
  text: string;
  uploads: Upload[];
}

/**
 * Creates the composer.
 *
 * @example
 * const composer = createComposer(actions); composer.setRoom("general");
 */
export function createComposer(actions: ComposerActions): Composer {
  const drafts = new Map<string, Draft>();
  let room: string | undefined;
  const draft = (): Draft | undefined => {
    if (room === undefined) return undefined;
    let d = drafts.get(room);
    if (!d) {
      d = { text: "", uploads: [] };
      drafts.set(room, d);
    }
    return d;
  };

  const textarea = h("textarea", {
    id: "message-input",
    name: "message",
    rows: "1",
    placeholder: "Write a message…",
    autocomplete: "off",
    "aria-describedby": "composer-hint",
  });
  const label = h("label", { for: "message-input", class: "visually-hidden" }, "Message");
  const fileInput = h("input", {
    type: "file",
    multiple: true,
    class: "visually-hidden",
    id: "file-input",
    tabindex: "-1",
    "aria-label": "Files to attach",
  });
  const attach = h(
    "button",
    { type: "button", class: "icon-button", "aria-label": "Attach files", title: "Attach files" },
    icon("paperclip"),
  );
  const sendButton = h(
    "button",
    { type: "submit", class: "send-button", "aria-label": "Send message", title: "Send (Enter)" },
    icon("send"),
  );
  const chips = h("ul", { class: "upload-list", "aria-label": "Attachments" });
  const hint = h(
    "p",
    { class: "composer-hint", id: "composer-hint" },
    h("kbd", {}, "Enter"),
    " to send · ",
    h("kbd", {}, "Shift"),
    "+",
    h("kbd", {}, "Enter"),
    " for a new line · drop files to attach",
  );
  const form = h(
    "form",
    { class: "composer", "aria-label": "Send a message" },
    chips,
    h("div", { class: "composer-row" }, attach, label, textarea, sendButton),
    hint,
    fileInput,
  );

  const autosize = () => {
    textarea.style.height = "auto";
    textarea.style.height = `${Math.min(textarea.scrollHeight, 200)}px`;
  };
  const refresh = () => {
    const d = draft();
    const busy = d?.uploads.some((u) => u.status === "uploading") ?? false;
    const ready = d?.uploads.some((u) => u.status === "done") ?? false;
    sendButton.disabled =
      room === undefined || textarea.disabled || busy || (textarea.value.trim() === "" && !ready);
    chips.hidden = !d || d.uploads.length === 0;
    chips.replaceChildren(...(d?.uploads ?? []).map(renderUpload));
  };

  const renderUpload = (u: Upload) => {
    const pct = u.file.size > 0 ? Math.round((u.done / u.file.size) * 100) : 100;
    return h(
      "li",
      { class: `upload ${u.status}`, dataset: { name: u.file.name } },
      h("div", { class: "file-icon" }, icon(u.status === "failed" ? "alert" : "file")),
      h(
        "div",
        { class: "upload-info" },
        h("span", { class: "file-name", title: u.file.name }, u.file.name),
        h(
          "span",
          { class: "file-size" },
          u.status === "failed"
            ? `Upload failed: ${u.error ?? "unknown error"}`
            : u.status === "done"
              ? `${formatBytes(u.file.size)} · ready`
              : u.done >= u.file.size
                ? `${formatBytes(u.file.size)} · finishing…`
                : `${formatBytes(u.done)} of ${formatBytes(u.file.size)}`,
        ),
        h("progress", {
          max: "100",
          value: String(u.status === "done" ? 100 : pct),
          "aria-label": `Uploading ${u.file.name}`,
          "aria-valuetext": `${pct}%`,
        }),
      ),
      h(
        "button",
        {
          type: "button",
          class: "icon-button",
          "aria-label": `Remove ${u.file.name}`,
          title: "Remove",
          onclick: () => {
            u.abort.abort();
            const d = draft();
            if (d) d.uploads = d.uploads.filter((x) => x !== u);
            refresh();
          },
        },
        icon("x"),
      ),
    );
  };

  const addFiles = (files: Iterable<File>) => {
    const d = draft();
    const target = room;
    if (!d || target === undefined || textarea.disabled) return;
    for (const file of files) {
      const u: Upload = { file, done: 0, status: "uploading", abort: new AbortController() };
      d.uploads.push(u);
      actions
        .upload(
          file,
          target,
          (done) => {
            u.done = done;
            if (room === target) refresh();
          },
          u.abort.signal,
        )
        .then(
          (info) => {
            u.status = "done";
            u.info = info;
            u.done = file.size;
          },
          (err: unknown) => {
            u.status = "failed";
            u.error = ConnectError.from(err).rawMessage;
          },
        )
        .finally(() => {
          if (room === target) refresh();
        });
    }
    refresh();
  };

  const submit = () => {
    const d = draft();
    if (!d || room === undefined || sendButton.disabled) return;
    const files = d.uploads.filter((u) => u.status === "done").map((u) => u.info!);
    const text = textarea.value.trim();
    if (text === "" && files.length === 0) return;
    actions.send(room, text, files);
    textarea.value = "";
    d.text = "";
    d.uploads = d.uploads.filter((u) => u.status === "failed");
    autosize();
    refresh();
  };

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    submit();
  });
  textarea.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      submit();
    }
  });
  textarea.addEventListener("input", () => {
    const d = draft();
    if (d) d.text = textarea.value;
    autosize();
    refresh();
  });
  textarea.addEventListener("paste", (ev) => {
    const files = [...(ev.clipboardData?.files ?? [])];
    if (files.length > 0) {
      ev.preventDefault();
      addFiles(files);
    }
  });
  attach.addEventListener("click", () => fileInput.click());
  fileInput.addEventListener("change", () => {
    addFiles([...(fileInput.files ?? [])]);
    fileInput.value = "";
  });

  return {
    element: form,
    setRoom(next, canPost = true) {
      room = next;
      textarea.value = draft()?.text ?? "";
      textarea.placeholder =
        next === undefined
          ? "Join a room to chat"
          : canPost
            ? `Message #${next}`
            : `You can read #${next} but not post in it`;
      label.textContent = next ? `Message #${next}` : "Message";
      textarea.disabled = next === undefined || !canPost;
      attach.disabled = textarea.disabled;
      autosize();
      refresh();
    },
    addFiles,
    focus() {
      textarea.focus();
    },
  };
}

/**
 * The signed-in app: rooms (open, switch, leave, unread counts), the live
 * feed into each room's timeline, presence, sending and files. It owns the
 * per-room state; the views only draw it.
 *
 * @module
 */
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, type ConnectError } from "@connectrpc/connect";
import { matchRoom } from "../../src/auth/room-pattern.js";
import {
  acceptMessage,
  applyRoomState,
  createRoomCursor,
  type RoomCursor,
} from "../../src/client/room-cursor.js";
import type { Message, User } from "../../src/gen/switchboard/chat/v1/chat_pb.js";
import { createApi } from "./api.js";
import type { Session } from "./auth.js";
import { downloadBlob, saveBlob, uploadBlob } from "./files.js";
import { mountLayout } from "./layout.js";
import { type ConnectionState, createLiveFeed } from "./live-feed.js";
import { createOutbox, type OutgoingMessage } from "./outbox.js";
import { createPresence, type PresenceStatus } from "./presence.js";
import {
  forgetReadMarker,
  loadReadMarker,
  loadRooms,
  type ReadMarker,
  saveReadMarker,
  saveRooms,
} from "./storage.js";
import { createComposer } from "./views/composer.js";
import { createHeader } from "./views/header.js";
import { createMembersPanel } from "./views/members.js";
import type { MessageModel } from "./views/message-item.js";
import { createSidebar } from "./views/sidebar.js";
import { createTimeline, type Timeline } from "./views/timeline.js";

/** Messages shown when a room is opened; earlier ones on request. */
const initialMessages = 50;

interface Room {
  readonly name: string;
  readonly cursor: RoomCursor;
  readonly timeline: Timeline;
  readonly models: Map<string, MessageModel>;
  unread: number;
  read: ReadMarker | undefined;
  members: readonly User[] | undefined;
  /** Offset of the room's first retained message, once known. */
  firstOffset: bigint | undefined;
  /** True once the timeline holds everything from the room's beginning. */
  complete: boolean;
  loadingOlder: boolean;
}

/**
 * Starts the app for a session; `signOut` is called (with a reason) when
 * the person signs out or the token stops working.
 *
 * @example
 * startApp(root, session, (reason) => renderSignIn(root, startApp, reason));
 */
export function startApp(
  root: HTMLElement,
  session: Session,
  signOut: (reason?: string) => void,
): void {
  const me = session.userId;
  const api = createApi(session.token);
  const rooms = new Map<string, Room>();
  const saved = loadRooms(me);
  let order: string[] = [];
  let active: string | undefined;
  let connection: ConnectionState = "connecting";
  let presenceStatus: PresenceStatus = "connecting";
  let stopped = false;

  const stop = (reason?: string) => {
    if (stopped) return;
    stopped = true;
    feed.close();
    presence.close();
    api.close();
    layout.destroy();
    document.removeEventListener("visibilitychange", onVisible);
    signOut(reason);
  };

  // Views.
  const sidebar = createSidebar(
    { id: me, name: session.name },
    {
      join: (r) => joinRoom(r, true),
      open: (r) => openRoom(r),
      leave: (r) => leaveRoom(r),
      signOut: () => stop(),
    },
  );
  const header = createHeader({
    toggleSidebar: () => layout.toggleSidebar(),
    toggleMembers: () => layout.toggleMembers(),
  });
  const members = createMembersPanel();
  const composer = createComposer({
    upload: (file, room, onProgress, signal) =>
      uploadBlob(api.stream, file, room, { onProgress, signal }),
    send: (room, text, attachments) => {
      outbox.send(room, text, attachments);
    },
  });
  const layout = mountLayout(root, {
    sidebar,
    header,
    composer,
    members,
    moveRoom: (delta) => {
      if (order.length === 0) return;
      const i = active === undefined ? 0 : order.indexOf(active);
      openRoom(order[(i + delta + order.length) % order.length]!);
    },
  });

  const renderRooms = () => {
    sidebar.render(
      order.map((name) => ({ name, unread: rooms.get(name)?.unread ?? 0 })),
      active,
    );
    const total = order.reduce((n, name) => n + (rooms.get(name)?.unread ?? 0), 0);
    document.title = `${total > 0 ? `(${total}) ` : ""}${active ? `#${active} · ` : ""}Switchboard`;
  };
  const renderMembers = () => {
    const r = active === undefined ? undefined : rooms.get(active);
    members.render(r?.members, presenceStatus, me);
    header.setMemberCount(r?.members?.length);
  };
  const persist = () => saveRooms(me, { rooms: order, active });

  const markRead = (r: Room) => {
    const newest = r.cursor.lastOffset;
    if (r.cursor.epoch === undefined || newest === undefined) return;
    if (r.read && r.read.epoch === r.cursor.epoch && r.read.offset >= newest) return;
    r.read = { epoch: r.cursor.epoch, offset: newest };
    saveReadMarker(me, r.name, r.read);
  };

  const modelOf = (m: Message): MessageModel => {
    const mine = m.sender?.id === me;
    return {
      key: mine && m.clientMessageId !== "" ? `c:${m.clientMessageId}` : `m:${m.id}`,
      offset: m.offset,
      senderId: m.sender?.id ?? "",
      senderName: m.sender?.displayName || m.sender?.id || "unknown",
      text: m.text,
      attachments: m.attachments,
      timeMs: m.time ? timestampMs(m.time) : Date.now(),
      status: "sent",
      mine,
      clientMessageId: m.clientMessageId,
    };
  };
  const show = (r: Room, model: MessageModel) => {
    r.models.set(model.key, model);
    r.timeline.put(model);
  };

  const updateOlder = (r: Room) => {
    if (r.loadingOlder) return r.timeline.setOlder("loading");
    const oldest = r.timeline.oldestOffset();
    if (r.firstOffset !== undefined && oldest !== undefined && oldest <= r.firstOffset) {
      r.complete = true;
    }
    r.timeline.setOlder(r.complete ? "none" : "more");
  };

  const loadOlder = async (r: Room) => {
    const before = r.timeline.oldestOffset();
    if (before === undefined || r.loadingOlder) return;
    r.loadingOlder = true;
    updateOlder(r);
    try {
      const page = await api.fetch.history(r.name, { before, limit: initialMessages });
      if (page.epoch === r.cursor.epoch) {
        for (const m of page.messages) show(r, modelOf(m));
        if (!page.hasMore) r.complete = true;
      }
    } catch (err) {
      r.timeline.setNotice(`Could not load earlier messages: ${(err as Error).message}`);
    } finally {
      r.loadingOlder = false;
      updateOlder(r);
    }
  };

  const findFirstOffset = (r: Room) => {
    api.fetch.history(r.name, { after: 0n, limit: 1 }).then(
      (page) => {
        r.firstOffset = page.messages[0]?.offset ?? 0n;
        updateOlder(r);
      },
      () => {},
    );
  };

  // The live feed (Subscribe over fetch).
  const feed = createLiveFeed(api.fetch, {
    positions: (names) =>
      names.map((name) => {
        const c = rooms.get(name)!.cursor;
        return c.lastOffset !== undefined && c.epoch !== undefined
          ? { room: name, from: { kind: "after", offset: c.lastOffset, epoch: c.epoch } }
          : { room: name, from: c.start };
      }),
    onState(state, resumed) {
      const r = rooms.get(state.room);
      if (!r) return;
      const known = r.cursor.epoch !== undefined;
      const reset = known && (!state.recovered || r.cursor.epoch !== state.epoch);
      applyRoomState(r.cursor, state);
      if (reset) {
        r.timeline.clearStored();
        for (const [key, m] of r.models) if (m.status === "sent") r.models.delete(key);
        r.unread = 0;
        r.read = undefined;
        // The server replays the whole retained history of the new epoch.
        r.firstOffset = undefined;
        r.complete = true;
        r.timeline.setNotice(
          `The server's history of #${r.name} was reset${resumed ? " while you were away" : ""}, so it was reloaded.`,
        );
        renderRooms();
      }
      if (!r.read || r.read.epoch !== state.epoch) {
        // First visit (or a new history): what is already there is not "unread".
        r.read = { epoch: state.epoch, offset: state.headOffset };
        saveReadMarker(me, r.name, r.read);
      }
      if (state.headOffset === 0n && r.timeline.oldestOffset() === undefined) r.complete = true;
      else if (!r.complete && r.firstOffset === undefined) findFirstOffset(r);
      updateOlder(r);
    },
    onMessage(m) {
      const r = rooms.get(m.room);
      if (!r || !acceptMessage(r.cursor, m)) return;
      const model = modelOf(m);
      show(r, model);
      const visible = m.room === active && document.visibilityState === "visible";
      if (visible) markRead(r);
      else if (!model.mine && (!r.read || r.read.epoch !== m.epoch || m.offset > r.read.offset)) {
        r.unread++;
        renderRooms();
      }
      if (!r.complete && r.firstOffset !== undefined) updateOlder(r);
    },
    onConnection(state, detail) {
      connection = state;
      const retry = detail.retryInMs
        ? ` — retrying in ${Math.ceil(detail.retryInMs / 1000)} s`
        : "";
      header.setConnection(state, detail.error ? `${detail.error}${retry}` : undefined);
    },
    onFatal(error: ConnectError) {
      if (error.code === Code.Unauthenticated)
        stop("Your session has expired. Please sign in again.");
      else header.setConnection("offline", error.rawMessage);
    },
  });

  // Presence and acknowledged sends (Chat over the tunnel).
  const presence = createPresence(api.stream, {
    onMembers(room, list) {
      const r = rooms.get(room);
      if (!r) return;
      r.members = list;
      if (room === active) renderMembers();
    },
    onStatus(status) {
      presenceStatus = status;
      renderMembers();
    },
  });
  const outbox = createOutbox(api.fetch, presence, {
    onUpdate(o: OutgoingMessage) {
      const r = rooms.get(o.room);
      if (!r) return;
      const key = `c:${o.clientMessageId}`;
      const known = r.models.get(key);
      // Already delivered by the feed: a late retry must not make it look unsent.
      if (known?.status === "sent" && o.status !== "sent") return;
      show(r, {
        key,
        offset: o.stored?.offset ?? known?.offset,
        senderId: me,
        senderName: session.name,
        text: o.text,
        attachments: o.stored?.attachments ?? o.attachments,
        timeMs: o.stored?.time ? timestampMs(o.stored.time) : (known?.timeMs ?? o.createdMs),
        status: o.status,
        error: o.error,
        mine: true,
        clientMessageId: o.clientMessageId,
      });
    },
  });

  const joinRoom = (name: string, open: boolean): string | undefined => {
    if (!matchRoom(session.subscribe, name)) {
      return `Your token does not allow reading #${name}.`;
    }
    if (!rooms.has(name)) {
      const read = loadReadMarker(me, name);
      const r: Room = {
        name,
        cursor: createRoomCursor(name, { kind: "last", count: initialMessages }),
        timeline: createTimeline({
          room: name,
          actions: {
            retry: (id) => outbox.retry(id),
            download: async (file, progress) => {
              const { blob } = await downloadBlob(api.fetch, file, { onProgress: progress });
              saveBlob(blob, file.name);
            },
          },
          onLoadOlder: () => void loadOlder(rooms.get(name)!),
        }),
        models: new Map(),
        unread: 0,
        read,
        members: undefined,
        firstOffset: undefined,
        complete: false,
        loadingOlder: false,
      };
      r.timeline.setOlder("none");
      rooms.set(name, r);
      order = [...order, name];
      feed.setRooms(order);
      presence.setRooms(order);
    }
    if (open) openRoom(name);
    else renderRooms();
    persist();
    return undefined;
  };

  function openRoom(name: string): void {
    const r = rooms.get(name);
    if (!r) return;
    active = name;
    r.unread = 0;
    markRead(r);
    layout.showTimeline(r.timeline.element);
    r.timeline.mounted();
    header.setRoom(name);
    composer.setRoom(name, matchRoom(session.publish, name));
    layout.setDropRoom(name);
    layout.closeDrawers();
    history.replaceState(null, "", `#${encodeURIComponent(name)}`);
    renderRooms();
    renderMembers();
    persist();
    composer.focus();
  }

  function leaveRoom(name: string): void {
    if (!rooms.delete(name)) return;
    forgetReadMarker(me, name);
    const i = order.indexOf(name);
    order = order.filter((r) => r !== name);
    feed.setRooms(order);
    presence.setRooms(order);
    if (active === name) {
      active = undefined;
      const next = order[Math.min(i, order.length - 1)];
      if (next !== undefined) openRoom(next);
      else {
        layout.showTimeline(undefined);
        header.setRoom(undefined);
        composer.setRoom(undefined);
        layout.setDropRoom(undefined);
        renderMembers();
      }
    }
    renderRooms();
    persist();
  }

  function onVisible(): void {
    if (document.visibilityState !== "visible" || active === undefined) return;
    const r = rooms.get(active);
    if (!r) return;
    r.unread = 0;
    markRead(r);
    renderRooms();
  }
  document.addEventListener("visibilitychange", onVisible);

  header.setConnection(connection);
  layout.showTimeline(undefined);
  const fromHash = decodeURIComponent(location.hash.slice(1));
  for (const name of saved.rooms) joinRoom(name, false);
  const first = fromHash && /^[A-Za-z0-9._:@-]{1,128}$/.test(fromHash) ? fromHash : saved.active;
  if (first !== undefined && (rooms.has(first) || joinRoom(first, false) === undefined)) {
    openRoom(first);
  } else if (order[0] !== undefined) openRoom(order[0]);
  renderRooms();
  renderMembers();
}

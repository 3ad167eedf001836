/**
 * What the app remembers per user between visits (localStorage): the open
 * rooms, the active one, and how far each room was read (for unread counts).
 *
 * @module
 */

/** A room's read marker: the newest offset seen, in its epoch. */
export interface ReadMarker {
  readonly epoch: string;
  readonly offset: bigint;
}

/** The remembered state of one user. */
export interface SavedRooms {
  readonly rooms: string[];
  readonly active: string | undefined;
}

/** Rooms a first visit opens. */
export const defaultRooms: readonly string[] = ["general"];

const roomsKey = (userId: string) => `switchboard.rooms.${userId}`;
const readKey = (userId: string, room: string) => `switchboard.read.${userId}.${room}`;

/** The rooms open on the last visit (the default room on the first). */
export function loadRooms(userId: string): SavedRooms {
  try {
    const raw = JSON.parse(localStorage.getItem(roomsKey(userId)) ?? "null") as {
      rooms?: unknown;
      active?: unknown;
    } | null;
    if (raw && Array.isArray(raw.rooms)) {
      const rooms = raw.rooms.filter((r): r is string => typeof r === "string");
      return { rooms, active: typeof raw.active === "string" ? raw.active : rooms[0] };
    }
  } catch {
    // Unreadable: start over.
  }
  return { rooms: [...defaultRooms], active: defaultRooms[0] };
}

/** Remembers the open rooms and the active one. */
export function saveRooms(userId: string, saved: SavedRooms): void {
  localStorage.setItem(roomsKey(userId), JSON.stringify(saved));
}

/** A room's read marker, if any. */
export function loadReadMarker(userId: string, room: string): ReadMarker | undefined {
  const raw = localStorage.getItem(readKey(userId, room));
  const match = raw ? /^(.*)@(\d+)$/.exec(raw) : null;
  return match ? { epoch: match[1]!, offset: BigInt(match[2]!) } : undefined;
}

/** Remembers a room's read marker. */
export function saveReadMarker(userId: string, room: string, marker: ReadMarker): void {
  localStorage.setItem(readKey(userId, room), `${marker.epoch}@${marker.offset}`);
}

/** Forgets a room's read marker (the room was left). */
export function forgetReadMarker(userId: string, room: string): void {
  localStorage.removeItem(readKey(userId, room));
}

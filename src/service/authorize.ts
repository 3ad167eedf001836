/**
 * Who is calling and what they may do. The user comes from the connect
 * context value {@link kUser}, set by the server's auth interceptor; room
 * permissions are glob patterns matched with `matchRoom`.
 *
 * @module
 */
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { matchRoom } from "../auth/room-pattern.js";
import type { UserRef } from "../backend/types.js";
import { type AuthenticatedUser, kUser } from "./context-values.js";

/**
 * Returns the caller, or throws Unauthenticated when no user was established.
 *
 * @example
 * const user = requireUser(ctx);
 */
export function requireUser(ctx: HandlerContext): AuthenticatedUser {
  const user = ctx.values.get(kUser);
  if (user === undefined) {
    throw new ConnectError("missing or invalid credentials", Code.Unauthenticated);
  }
  return user;
}

/**
 * Throws PermissionDenied unless the user may publish to the room (Send, Chat
 * send, Upload for a room).
 *
 * @example
 * authorizePublish(user, "lobby");
 */
export function authorizePublish(user: AuthenticatedUser, room: string): void {
  if (!matchRoom(user.publish, room)) {
    throw new ConnectError(`not allowed to publish to room "${room}"`, Code.PermissionDenied);
  }
}

/**
 * Throws PermissionDenied unless the user may subscribe to the room
 * (Subscribe, Chat join, History, Download of a file uploaded for a room).
 *
 * @example
 * authorizeSubscribe(user, "lobby");
 */
export function authorizeSubscribe(user: AuthenticatedUser, room: string): void {
  if (!matchRoom(user.subscribe, room)) {
    throw new ConnectError(`not allowed to subscribe to room "${room}"`, Code.PermissionDenied);
  }
}

/**
 * The backend's view of a user (id and display name only).
 *
 * @example
 * log.append({ sender: userRef(user), … });
 */
export function userRef(user: AuthenticatedUser): UserRef {
  return { id: user.id, name: user.name };
}

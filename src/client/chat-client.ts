/**
 * The type of the generated ChatService client every core helper takes, so
 * that they work over any transport (connect-node, connect-web, in-memory).
 *
 * @module
 */
import type { Client } from "@connectrpc/connect";
import type { ChatService } from "../gen/switchboard/chat/v1/chat_pb.js";

/** A promise client of ChatService, created with `createClient(ChatService, transport)`. */
export type ChatClient = Client<typeof ChatService>;

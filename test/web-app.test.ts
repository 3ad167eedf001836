/**
 * The browser app in real headless Chromium (Debian's, via playwright-core),
 * against a real server: two people chat live and see each other present, a
 * CLI user joins in, files go from one browser to the other intact, and a
 * server restart (same data) or a history loss (new epoch) is handled in
 * front of the user. Screenshots go to test-artifacts/.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { mintToken } from "../src/auth/tokens.js";
import { defaultServerConfig, type ServerConfig } from "../src/server/config.js";
import { createSwitchboardServer, type SwitchboardServer } from "../src/server/create-server.js";
import {
  artifactsDir,
  type BrowserUser,
  ensureWebBuilt,
  launchBrowser,
  messageTexts,
  sendMessage,
  signInAs,
} from "./helpers/browser.js";
import { cliEnv, spawnCli } from "./helpers/cli.js";

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** Polls until `fn` stops throwing (generous: the machine is shared). */
async function eventually<T>(fn: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function expectTexts(page: Page, expected: string[], timeoutMs?: number): Promise<void> {
  await eventually(async () => assert.deepEqual(await messageTexts(page), expected), timeoutMs);
}

/** A dev-mode server on a fixed data dir that can be restarted on the same port. */
async function startServer(
  dataDir: string,
  backend: "sqlite" | "memory",
  port = 0,
): Promise<SwitchboardServer> {
  const config: ServerConfig = {
    ...defaultServerConfig,
    host: "127.0.0.1",
    port,
    dataDir,
    backend,
    dev: true,
    shutdownGraceMs: 500,
    corsOrigins: [],
    limits: { heartbeatIntervalMs: 5_000 },
  };
  return createSwitchboardServer(config);
}

describe("browser app in Chromium", () => {
  let browser: Browser;
  const users: BrowserUser[] = [];
  const servers: SwitchboardServer[] = [];
  const dirs: string[] = [];

  const newDir = async () => {
    const d = await mkdtemp(join(tmpdir(), "switchboard-web-e2e-"));
    dirs.push(d);
    return d;
  };
  const start = async (dataDir: string, backend: "sqlite" | "memory", port = 0) => {
    const s = await startServer(dataDir, backend, port);
    servers.push(s);
    return s;
  };
  const signIn = async (
    url: string,
    name: string,
    viewport?: { width: number; height: number },
  ) => {
    const u = await signInAs(browser, url, name, viewport);
    users.push(u);
    return u;
  };

  before(async () => {
    await ensureWebBuilt();
    await mkdir(artifactsDir, { recursive: true });
    browser = await launchBrowser();
  });
  after(async () => {
    for (const u of users) await u.context.close().catch(() => {});
    await browser?.close();
    for (const s of servers) await s.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it("two users chat in real time, see each other present, and a CLI user's message reaches both", async () => {
    const server = await start(await newDir(), "sqlite");
    const alice = await signIn(server.url, "Alice Lovelace");
    const bob = await signIn(server.url, "Bob");

    for (const u of [alice, bob]) {
      const members = u.page.locator("#members .member-name");
      await eventually(async () =>
        assert.deepEqual((await members.allTextContents()).sort(), [
          u === alice ? "Alice Lovelace (you)" : "Alice Lovelace",
          u === bob ? "Bob (you)" : "Bob",
        ]),
      );
      await eventually(async () =>
        assert.equal(await u.page.locator(".connection").getAttribute("data-state"), "live"),
      );
    }

    await sendMessage(alice.page, "Hi Bob, the build is green.");
    await expectTexts(bob.page, ["Hi Bob, the build is green."]);
    await sendMessage(bob.page, "Great, shipping it.");
    await expectTexts(alice.page, ["Hi Bob, the build is green.", "Great, shipping it."]);

    const token = await mintToken(server.secret, {
      subject: "carol",
      name: "Carol (CLI)",
      rooms: ["*"],
    });
    const cli = spawnCli(
      [
        "send",
        "general",
        "Hello from the terminal",
        "--server",
        server.url,
        "--token",
        token,
        "--protocol",
        "connect",
      ],
      { env: cliEnv() },
    );
    const run = await cli.exited;
    assert.equal(run.code, 0, run.stderr);
    const all = ["Hi Bob, the build is green.", "Great, shipping it.", "Hello from the terminal"];
    await expectTexts(alice.page, all);
    await expectTexts(bob.page, all);
    assert.equal(await alice.page.locator(".msg:not(.sending):not(.failed)").count(), 3);

    // Unread counts: Alice moves to another room while Bob keeps talking in #general.
    await alice.page.getByLabel("Join a room").fill("random");
    await alice.page.getByLabel("Join a room").press("Enter");
    await alice.page.getByRole("heading", { level: 1, name: "random" }).waitFor();
    await sendMessage(bob.page, "Anyone around?");
    await sendMessage(bob.page, "Ping.");
    const general = alice.page.locator('.room-button[data-room="general"]');
    await eventually(async () =>
      assert.equal(await general.getAttribute("aria-label"), "general, 2 unread"),
    );
    await general.click();
    await expectTexts(alice.page, [...all, "Anyone around?", "Ping."]);
    assert.equal(await general.getAttribute("aria-label"), "general");

    // Keyboard: Alt+ArrowDown switches rooms.
    await alice.page.keyboard.press("Alt+ArrowDown");
    await alice.page.getByRole("heading", { level: 1, name: "random" }).waitFor();
    await alice.page.keyboard.press("Alt+ArrowUp");
    await alice.page.getByRole("heading", { level: 1, name: "general" }).waitFor();

    await alice.page.mouse.move(0, 0);
    await alice.page.screenshot({ path: join(artifactsDir, "web-room.png") });
    const phone = await signIn(server.url, "Dana", { width: 390, height: 780 });
    await expectTexts(phone.page, [...all, "Anyone around?", "Ping."]);
    await phone.page.screenshot({ path: join(artifactsDir, "web-room-mobile.png") });
    assert.deepEqual([...alice.errors, ...bob.errors, ...phone.errors], []);
  });

  it("a file uploaded by one user is downloaded by the other with the same sha256", async () => {
    const server = await start(await newDir(), "sqlite");
    const alice = await signIn(server.url, "Alice");
    const bob = await signIn(server.url, "Bob");
    const bytes = randomBytes(1_200_000);

    await alice.page.locator("#file-input").setInputFiles({
      name: "measurements.bin",
      mimeType: "application/octet-stream",
      buffer: bytes,
    });
    const upload = alice.page.locator('.upload[data-name="measurements.bin"]');
    await upload.locator(".file-size", { hasText: "ready" }).waitFor();
    await alice.page.screenshot({ path: join(artifactsDir, "web-upload.png") });
    await sendMessage(alice.page, "Here are the measurements");

    const card = bob.page.locator(".file-card", { hasText: "measurements.bin" });
    await card.waitFor();
    const [download] = await Promise.all([
      bob.page.waitForEvent("download"),
      card.getByRole("button", { name: "Download measurements.bin" }).click(),
    ]);
    assert.equal(download.suggestedFilename(), "measurements.bin");
    const saved = join(dirs[dirs.length - 1]!, "downloaded.bin");
    await download.saveAs(saved);
    assert.equal(sha256(await readFile(saved)), sha256(bytes));
    await card.locator(".file-note", { hasText: "Downloaded" }).waitFor();
    assert.deepEqual([...alice.errors, ...bob.errors], []);
  });

  it("after a server restart both users resume without losing or repeating a message", async () => {
    const dataDir = await newDir();
    const first = await start(dataDir, "sqlite");
    const alice = await signIn(first.url, "Alice");
    const bob = await signIn(first.url, "Bob");
    await sendMessage(alice.page, "one");
    await sendMessage(bob.page, "two");
    await sendMessage(alice.page, "three");
    await expectTexts(alice.page, ["one", "two", "three"]);
    await expectTexts(bob.page, ["one", "two", "three"]);

    await first.close();
    for (const u of [alice, bob]) {
      await eventually(async () =>
        assert.match(
          (await u.page.locator(".connection").getAttribute("data-state")) ?? "",
          /reconnecting|offline/,
        ),
      );
    }
    // Sent while the server is down: shown at once, delivered after the restart.
    await sendMessage(alice.page, "sent during the outage");
    await alice.page.locator(".msg.sending", { hasText: "sent during the outage" }).waitFor();

    const second = await start(dataDir, "sqlite", first.port);
    const expected = ["one", "two", "three", "sent during the outage"];
    for (const u of [alice, bob]) {
      await eventually(
        async () =>
          assert.equal(await u.page.locator(".connection").getAttribute("data-state"), "live"),
        30_000,
      );
      await expectTexts(u.page, expected, 30_000);
    }
    await sendMessage(bob.page, "after the restart");
    expected.push("after the restart");
    await expectTexts(alice.page, expected);
    await expectTexts(bob.page, expected);
    assert.equal(await alice.page.locator(".msg.sending, .msg.failed").count(), 0);

    // Stored exactly once, whatever the retries did.
    const token = await mintToken(second.secret, { subject: "auditor", rooms: ["*"] });
    const res = await fetch(`${second.url}/switchboard.chat.v1.ChatService/History`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ room: "general", limit: 100 }),
    });
    const page = (await res.json()) as { messages: { text: string }[] };
    assert.deepEqual(
      page.messages.map((m) => m.text),
      expected,
    );
    assert.deepEqual(
      [...alice.errors, ...bob.errors].filter(
        (e) => !/Failed to load resource|ERR_CONNECTION_REFUSED|WebSocket/.test(e),
      ),
      [],
    );
  });

  it("when the server lost its history (new epoch) the room is reloaded and the user is told", async () => {
    const dataDir = await newDir();
    const first = await start(dataDir, "memory");
    const alice = await signIn(first.url, "Alice");
    await sendMessage(alice.page, "before the loss");
    await expectTexts(alice.page, ["before the loss"]);
    await first.close();

    const second = await start(dataDir, "memory", first.port);
    const token = await mintToken(second.secret, { subject: "bob", name: "Bob", rooms: ["*"] });
    await fetch(`${second.url}/switchboard.chat.v1.ChatService/Send`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ room: "general", text: "new history" }),
    });
    await alice.page
      .getByRole("status")
      .filter({ hasText: "history of #general was reset" })
      .waitFor({ timeout: 30_000 });
    await expectTexts(alice.page, ["new history"], 30_000);
    await alice.page.screenshot({ path: join(artifactsDir, "web-history-reset.png") });
  });

  it("without --dev there is no name sign-in: a pasted token signs in, and signing out returns", async () => {
    const dataDir = await newDir();
    const server = await createSwitchboardServer({
      ...defaultServerConfig,
      port: 0,
      dataDir,
      backend: "memory",
      corsOrigins: [],
    });
    servers.push(server);
    const context = await browser.newContext();
    users.push({ context, page: await context.newPage(), errors: [] });
    const page = users[users.length - 1]!.page;
    await page.goto(`${server.url}/`);
    await page.getByLabel("Access token").waitFor();
    assert.equal(await page.getByLabel("Your name").count(), 0);
    await page.screenshot({ path: join(artifactsDir, "web-sign-in.png") });
    await page.getByLabel("Access token").fill("not-a-token");
    await page.getByRole("button", { name: "Sign in with token" }).click();
    await page.getByRole("alert").filter({ hasText: "not a Switchboard token" }).waitFor();
    const token = await mintToken(server.secret, {
      subject: "erin",
      name: "Erin",
      rooms: ["general", "team-*"],
    });
    await page.getByLabel("Access token").fill(token);
    await page.getByRole("button", { name: "Sign in with token" }).click();
    await page.getByRole("textbox", { name: "Message #general" }).waitFor();
    await page.getByLabel("Join a room").fill("secret");
    await page.getByLabel("Join a room").press("Enter");
    await page.getByRole("alert").filter({ hasText: "does not allow reading #secret" }).waitFor();
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Access token").waitFor();
  });
});

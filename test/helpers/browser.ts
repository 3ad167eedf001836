/**
 * Real-browser test support: Debian's Chromium driven by playwright-core,
 * the web app built (and rebuilt when its sources changed), and pages signed
 * in through the dev sign-in.
 *
 * Chromium missing is a failure, never a skip: `.ci/run` installs it
 * (`apt-get install -y chromium`); never `npx playwright install`.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";

/** Where Debian installs Chromium; `CHROMIUM_PATH` overrides it. */
export const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

const repo = fileURLToPath(new URL("../../", import.meta.url));
const dist = join(repo, "web", "dist", "index.html");
/** Everything the bundle is built from. */
const sources = [
  "web/src",
  "web/index.html",
  "web/vite.config.ts",
  "web/public",
  "src/client",
  "src/gen",
  "src/auth",
];

/** Directory for screenshots and other artifacts (gitignored). */
export const artifactsDir = join(repo, "test-artifacts");

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const name of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, name)));
  return newest;
}

/**
 * Builds web/dist unless it is newer than every source (others may be
 * editing src/client meanwhile). Concurrent test files serialize on a lock
 * directory.
 */
export async function ensureWebBuilt(): Promise<void> {
  const lock = join(repo, "web", ".build-lock");
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // A lock left by a killed run is stale after 3 minutes.
      if (Date.now() - statSync(lock, { throwIfNoEntry: false })!.mtimeMs > 180_000)
        rmdirSync(lock);
      if (Date.now() > deadline) throw new Error(`web build lock ${lock} held for 2 minutes`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    const built = existsSync(dist) ? statSync(dist).mtimeMs : 0;
    const newest = Math.max(...sources.map((s) => newestMtime(join(repo, s))));
    if (built > newest) return;
    execFileSync(
      join(repo, "node_modules", ".bin", "vite"),
      // Without emptying web/dist: pages of a test running meanwhile keep their assets.
      ["build", "--config", "web/vite.config.ts", "--logLevel", "warn", "--emptyOutDir", "false"],
      { cwd: repo, stdio: ["ignore", "inherit", "inherit"], timeout: 120_000 },
    );
  } finally {
    rmdirSync(lock);
  }
}

/**
 * Launches headless Chromium.
 *
 * @throws when Chromium is not installed (the test fails; it never skips).
 */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(
      `Chromium not found at ${chromiumPath}: install it with \`apt-get install -y chromium\` ` +
        "(.ci/run does); browser tests fail rather than skip without it",
    );
  }
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    timeout: 60_000,
  });
}

/** A signed-in browser user. */
export interface BrowserUser {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Console errors and page errors seen so far (for failure messages). */
  readonly errors: string[];
}

/**
 * Opens a fresh browser context (its own storage, like a second person) and
 * signs in through the dev sign-in page with `name`.
 */
export async function signInAs(
  browser: Browser,
  baseUrl: string,
  name: string,
  viewport = { width: 1280, height: 800 },
): Promise<BrowserUser> {
  const context = await browser.newContext({ acceptDownloads: true, viewport });
  context.setDefaultTimeout(20_000);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(`console: ${msg.text()}`);
  });
  page.on("pageerror", (err) => errors.push(`pageerror: ${err.message}`));
  await page.goto(`${baseUrl}/`);
  await page.getByLabel("Your name").fill(name);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("textbox", { name: /^Message #/ }).waitFor();
  return { context, page, errors };
}

/** The texts of the messages in the open room, in order. */
export async function messageTexts(page: Page): Promise<string[]> {
  return page.locator(".timeline:visible .msg .text").allTextContents();
}

/** Types a message into the composer and presses Enter. */
export async function sendMessage(page: Page, text: string): Promise<void> {
  const box = page.getByRole("textbox", { name: /^Message #/ });
  await box.fill(text);
  await box.press("Enter");
}

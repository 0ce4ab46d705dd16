// What a person does in the workbench: the command palette, input boxes, notifications, the
// status bar, terminals and views, read and driven through the DOM.
import type { Locator, Page } from "playwright-core";

const QUICK_INPUT = ".quick-input-widget";

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) {
        return value;
      }
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? ` (${String(last)})` : ""}`);
}

/** Runs a command from the palette (F1), choosing the row whose label is exactly `title`. */
export async function runCommand(page: Page, title: string): Promise<void> {
  await closeQuickInput(page);
  await page.keyboard.press("F1");
  const input = page.locator(`${QUICK_INPUT} .quick-input-box input`);
  await input.waitFor({ state: "visible" });
  await input.fill(`>${title}`);
  const row = page
    .locator(`${QUICK_INPUT} .monaco-list-row`)
    .filter({ has: page.locator(".label-name", { hasText: new RegExp(`^${escapeRegExp(title)}$`) }) })
    .first();
  await row.waitFor({ state: "visible" });
  await row.click();
}

/** Answers the input box whose prompt contains `prompt`; `text` undefined accepts the default. */
export async function answerInputBox(page: Page, prompt: string, text?: string): Promise<void> {
  await page.locator(`${QUICK_INPUT} .quick-input-message`, { hasText: prompt }).waitFor({ state: "visible" });
  const input = page.locator(`${QUICK_INPUT} .quick-input-box input`);
  if (text !== undefined) {
    await input.fill(text);
  }
  await input.press("Enter");
}

/** Accepts the first row of the quick pick whose placeholder contains `placeholder`. */
export async function acceptQuickPick(page: Page, placeholder: string): Promise<void> {
  const input = page.locator(`${QUICK_INPUT} .quick-input-box input[placeholder*="${placeholder.replace(/"/g, '\\"')}"]`);
  await input.waitFor({ state: "visible" });
  await input.press("Enter");
}

/** Escape only when a quick input is open: a finished run's terminal closes on any key. */
async function closeQuickInput(page: Page): Promise<void> {
  if (await page.locator(QUICK_INPUT).isVisible()) {
    await page.keyboard.press("Escape");
  }
}

export async function openFile(page: Page, name: string): Promise<void> {
  await closeQuickInput(page);
  await page.keyboard.press("F1");
  const input = page.locator(`${QUICK_INPUT} .quick-input-box input`);
  await input.waitFor({ state: "visible" });
  await input.fill(name);
  await page.locator(`${QUICK_INPUT} .monaco-list-row`, { hasText: name }).first().waitFor({ state: "visible" });
  await input.press("Enter");
  await page.locator(".tabs-container .tab.active", { hasText: name }).waitFor({ state: "visible" });
}

export function statusBarItem(page: Page): Locator {
  return page.locator(".statusbar .statusbar-item", { hasText: "Colab ·" }).first();
}

export async function statusBarText(page: Page): Promise<string> {
  return (await statusBarItem(page).innerText()).trim();
}

export function toast(page: Page, text: string | RegExp): Locator {
  return page.locator(".notifications-toasts .notification-toast", { hasText: text }).first();
}

export async function clearNotifications(page: Page): Promise<void> {
  await runCommand(page, "Notifications: Clear All Notifications");
}

/** Every terminal's rendered rows, one string per terminal (the DOM renderer is on). */
export async function terminalTexts(page: Page): Promise<string[]> {
  return page.locator(".terminal .xterm-rows").allInnerTexts();
}

/** Gives the keyboard to the terminal panel's active terminal. */
export async function terminalFocus(page: Page): Promise<void> {
  await runCommand(page, "Terminal: Focus Terminal");
}

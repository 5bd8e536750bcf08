// Headless Debian Chromium through playwright-core, and the browser side of
// a login: relying party URL -> tusk -> the stand-in's login and consent
// forms -> tusk's callback -> the relying party's redirect URI.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
];

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * A fresh browser: its own user data directory (so no cookie of another
 * login leaks in: tusk and the stand-ins share the host 127.0.0.1, and
 * cookies ignore ports). Requests off loopback (the stand-in's page imports
 * a web font) are aborted rather than left to time out.
 */
export async function openBrowser() {
  const userDataDir = await mkdtemp(join(tmpdir(), 'tusk-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1000, height: 700 },
    timeout: 60_000,
  });
  context.setDefaultTimeout(20_000);
  context.setDefaultNavigationTimeout(30_000);
  await context.route((url) => !LOOPBACK.has(url.hostname), (route) => route.abort());
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Intercepts navigations to the relying party's redirect URI (nothing
 * listens there). `landed` resolves with the URL the browser was sent to.
 */
export async function catchRedirect(page, redirectUri) {
  let resolveLanded;
  const landed = new Promise((r) => { resolveLanded = r; });
  await page.route((url) => url.href.startsWith(redirectUri), async (route) => {
    resolveLanded(route.request().url());
    await route.fulfill({ status: 200, contentType: 'text/html', body: '<!DOCTYPE html><title>RP</title><h1>relying party reached</h1>' });
  });
  return { landed };
}

/** Fills in the stand-in's development login form, then its consent form. */
export async function standinLogin(page, standin, login) {
  await page.waitForURL((u) => u.href.startsWith(standin.origin), { timeout: 30_000 });
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any-password');
  await page.locator('button[type="submit"]').click();
  // Consent ("Continue").
  const consent = page.locator('button[type="submit"]', { hasText: 'Continue' });
  await consent.waitFor({ state: 'visible', timeout: 20_000 });
  await consent.click();
}

/**
 * The whole browser login. With `connectorName`, the chooser page is
 * expected and its "Log in with <name>" button clicked.
 * Resolves with { code, state, url, iss } from the relying party's redirect.
 */
export async function browserLogin({ browser, url, rp, standin, login, connectorName, onChooser }) {
  const page = await browser.context.newPage();
  try {
    const { landed } = await catchRedirect(page, rp.redirectUri);
    await page.goto(url);
    if (connectorName) {
      await page.getByRole('heading', { name: /Log in to/ }).waitFor();
      if (onChooser) await onChooser(page);
      await page.getByRole('link', { name: `Log in with ${connectorName}` }).click();
    }
    await standinLogin(page, standin, login);
    const final = await withTimeout(landed, 30_000, () => `the browser never reached ${rp.redirectUri}; it is at ${page.url()}`);
    const u = new URL(final);
    const out = Object.fromEntries(u.searchParams);
    if (!out.code) throw new Error(`the relying party got no code: ${final}`);
    return { ...out, url: final };
  } catch (e) {
    let text = '';
    try { text = (await page.locator('body').innerText({ timeout: 2_000 })).slice(0, 2_000); } catch { /* closed */ }
    e.message += `\n(browser at ${page.url()}; page text: ${text})`;
    throw e;
  } finally {
    await page.close().catch(() => {});
  }
}

async function withTimeout(promise, ms, what) {
  let t;
  try {
    return await Promise.race([promise, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(what())), ms); })]);
  } finally {
    clearTimeout(t);
  }
}

/**
 * The web page in a real browser (issue 9 §2): Debian's Chromium driven by playwright-core
 * against a real `--role all` process. Logs in, declares an exchange and a queue from the page,
 * publishes from it and sees the depth change, looks at the messages, sees a message the API
 * dead-lettered and redrives it from the page; then a user with fewer grants sees the API's 403
 * in the page. Writes screenshots (paths printed) for a person to look at.
 *
 * Every wait is for a condition in the page (its own poll runs every 3 s), never a sleep.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { REPO_ROOT, startBroker, type RunningBroker } from '../helpers/broker';
import { addUser, adminApi, uniqueName, type Api } from '../helpers/http-api';

const CHROMIUM = '/usr/bin/chromium';
/** Long enough for a few of the page's 3-second polls on a busy machine. */
const WAIT_MS = 20_000;
const SCREENSHOT = join(REPO_ROOT, 'build', 'ui-screenshot.png');
const OVERVIEW_SCREENSHOT = join(REPO_ROOT, 'build', 'ui-screenshot-overview.png');

/**
 * What the functions this test runs inside the page use of the browser's globals (the tests
 * compile without the DOM's types; a cast of globalThis is all that reaches the browser).
 */
interface InPage {
  document: { querySelector(selector: string): { textContent: string | null } | null; cookie: string };
  localStorage: { length: number };
  sessionStorage: { length: number };
}

/** A headless Chromium with a fresh profile, closed (and its profile removed) when the test ends. */
async function launchBrowser(t: TestContext): Promise<BrowserContext> {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/install-deps.sh (Debian package chromium)`);
  const profile = mkdtempSync(join(tmpdir(), 'mom-ui-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-gpu', '--no-first-run'],
  });
  t.after(async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  });
  return context;
}

/** Collects what would mean the page is broken: script errors, CSP refusals, failed loads. */
function watchForErrors(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // The browser logs the API's refusals the test asks for (a 401 login, the 403s) as failed loads.
    if (message.type() === 'error' && !/status of 40[13]/.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  // The page asks before purging and deleting: accept, as a person would.
  page.on('dialog', (dialog) => void dialog.accept());
  return problems;
}

async function textOf(page: Page, selector: string): Promise<string> {
  return ((await page.locator(selector).first().textContent({ timeout: WAIT_MS })) ?? '').trim();
}

/** Waits until the element's text is `expected` (the page's poll or an action updates it). */
async function waitForText(page: Page, selector: string, expected: string | RegExp): Promise<void> {
  await page.waitForFunction(
    ([sel, source, isRegExp]) => {
      const text = (globalThis as unknown as InPage).document.querySelector(sel!)?.textContent?.trim() ?? '';
      return isRegExp ? new RegExp(source!).test(text) : text === source;
    },
    [selector, typeof expected === 'string' ? expected : expected.source, typeof expected !== 'string'] as const,
    { timeout: WAIT_MS },
  );
}

async function logIn(page: Page, user: string, pass: string): Promise<void> {
  await page.fill('#login-user', user);
  await page.fill('#login-pass', pass);
  await page.click('form[data-form=login] button[type=submit]');
}

test('the web page: log in, declare, publish, see the depth, redrive a dead letter; permissions as the API', async (t) => {
  const broker = await startBroker(t);
  const api = await adminApi(broker);
  const context = await launchBrowser(t);
  const page = await context.newPage();
  const problems = watchForErrors(page);
  const exchange = uniqueName('shop');
  const queue = uniqueName('orders');

  try {
    await drive(t, page, broker, api, exchange, queue);
  } catch (error) {
    // What the page showed when it went wrong, for whoever reads the failure.
    const failure = join(REPO_ROOT, 'build', 'ui-failure.png');
    await page.screenshot({ path: failure, fullPage: true }).catch(() => undefined);
    t.diagnostic(`the page when the test failed: ${failure}`);
    throw error;
  }
  assert.deepEqual(problems, [], 'no script error, CSP refusal or failed load in the page');
});

async function drive(t: TestContext, page: Page, broker: RunningBroker, api: Api, exchange: string, queue: string): Promise<void> {
  const inbox = `/v1/exchanges/${exchange}/queues/${queue}`;
  await page.goto(`${broker.url}/ui`);

  // A wrong password: the API's own answer, in the page.
  await logIn(page, 'admin', 'not-the-password');
  await waitForText(page, '.login-error', /^401 invalid_credentials: /);
  await logIn(page, 'admin', broker.adminPassword);
  await waitForText(page, '[data-field=user]', 'admin');
  await waitForText(page, '[data-field=status]', /^live · updated/);

  // Declare an exchange and a queue from the page.
  await page.fill('form[data-form=declare-exchange] input[name=name]', exchange);
  await page.click('form[data-form=declare-exchange] button[type=submit]');
  await waitForText(page, '[data-flash=ok]', `Exchange ${exchange} declared`);
  await page.click(`tr[data-name="${exchange}"] a`);
  await page.fill('form[data-form=declare-queue] input[name=name]', queue);
  await page.fill('form[data-form=declare-queue] input[name=max_deliveries]', '5');
  await page.click('form[data-form=declare-queue] button[type=submit]');
  await waitForText(page, `tr[data-name="${queue}"] td[data-field=depth]`, '0');
  assert.equal((await api.get(inbox)).body.options.max_deliveries, 5, 'declared with the form options');

  // Publish from the queue's page: the depth changes.
  await page.click(`tr[data-name="${queue}"] a`);
  await waitForText(page, '.card-value[data-field=depth]', '0');
  await page.fill('form[data-form=publish] textarea[name=payload]', '{"sku": 42, "from": "the page"}');
  await page.click('form[data-form=publish] button[type=submit]');
  await waitForText(page, '[data-flash=ok]', /^Published [0-9a-f-]{36}$/);
  const published = (await textOf(page, '[data-flash=ok]')).replace('Published ', '');
  await waitForText(page, '.card-value[data-field=depth]', '1');

  // A look at the messages takes them and gives them back (a delivery counted, as the page says).
  await page.click('form[data-form=peek] button[type=submit]');
  await waitForText(page, '[data-flash=ok]', 'Got 1 message(s) and gave them back (nack, requeue)');
  assert.equal(await textOf(page, `.peeked tr[data-name="${published}"] td[data-field=id]`), published);
  await waitForText(page, '.card-value[data-field=depth]', '1');

  // Dead-letter it through the API (nack without requeue); the page shows it.
  const [pulled] = await api.pull(inbox, { max: 1, lease_ms: 60_000 });
  assert.equal(pulled?.id, published);
  assert.deepEqual(pulled?.payload, { sku: 42, from: 'the page' });
  assert.equal((await api.nack(inbox, [published], false)).nacked, 1);
  await waitForText(page, '.card-value[data-field=dead_letters]', '1');
  await waitForText(page, '.card-value[data-field=depth]', '0');
  await waitForText(page, `tr[data-name="${published}"] td[data-field=reason]`, /\S/);

  mkdirSync(join(REPO_ROOT, 'build'), { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  t.diagnostic(`screenshot of the queue page: ${SCREENSHOT}`);

  // Redrive it from the page.
  await page.check(`input[type=checkbox][data-id="${published}"]`);
  await page.click('[data-action=redrive-selected]');
  await waitForText(page, '[data-flash=ok]', 'Redrove 1 dead letter(s): they are ready again');
  await waitForText(page, '.card-value[data-field=dead_letters]', '0');
  await waitForText(page, '.card-value[data-field=depth]', '1');
  const [again] = await api.pull(inbox, { max: 1, lease_ms: 60_000 });
  assert.equal(again?.id, published, 'the redriven message is ready again');
  assert.equal(again?.deliveries, 1, 'with its deliveries reset');
  assert.equal((await api.nack(inbox, [published], true)).nacked, 1);

  // The overview counts it; its partition table has a leader, an epoch and an ISR.
  await page.click('nav.nav a[href="#/"]');
  await waitForText(page, `tr[data-name="${exchange}"] td[data-field=depth]`, /^1/);
  await waitForText(page, '.card-value[data-field=nodes]', '1');
  assert.equal(await textOf(page, 'tr[data-name="0"] td[data-field=leader]'), 'node-1');
  assert.match(await textOf(page, 'tr[data-name="0"] td[data-field=epoch]'), /^\d+$/);
  assert.equal(await textOf(page, 'tr[data-name="0"] td[data-field=isr]'), 'node-1');
  await page.screenshot({ path: OVERVIEW_SCREENSHOT, fullPage: true });
  t.diagnostic(`screenshot of the overview: ${OVERVIEW_SCREENSHOT}`);

  // Users, for an admin.
  await page.click('nav.nav a[href="#/users"]');
  await waitForText(page, 'tr[data-name=admin] td[data-field=username]', 'admin');

  // The token lives in memory only: not in the address, storage or cookies.
  assert.doesNotMatch(page.url(), /token|eyJ/);
  const stored = await page.evaluate(() => {
    const browser = globalThis as unknown as InPage;
    return { local: browser.localStorage.length, session: browser.sessionStorage.length, cookie: browser.document.cookie };
  });
  assert.deepEqual(stored, { local: 0, session: 0, cookie: '' });

  // A user who may only consume: no Users link; a purge is refused with the API's 403, and nothing changes.
  await addUser(broker, 'viewer', 'viewer-password', [{ exchange, allow: ['consume'] }]);
  await page.click('[data-action=logout]');
  await waitForText(page, '.login-error', 'Logged out.');
  await logIn(page, 'viewer', 'viewer-password');
  await waitForText(page, '[data-field=user]', 'viewer');
  assert.equal(await page.locator('nav.nav a[href="#/users"]').count(), 0, 'no Users link for a user who is not an admin');
  await page.goto(`${broker.url}/ui#/exchanges/${exchange}/queues/${queue}`);
  await waitForText(page, '.card-value[data-field=depth]', '1');
  await page.click('[data-action=purge]');
  await waitForText(page, '[data-flash=error]', /^403 forbidden: /);
  assert.equal((await api.get(inbox)).body.depth, 1, 'the refused purge changed nothing');
  await page.goto(`${broker.url}/ui#/users`);
  await waitForText(page, '.refresh-error', /^403 forbidden: /);
}

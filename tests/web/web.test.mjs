// End-to-end tests of the web app: the real `xinyong serve` (an in-memory log, a free
// port), a small world set up through the API, and headless Chromium (Debian's
// /usr/bin/chromium) driven by playwright-core. Each screen is checked for its data and
// saved as a screenshot in screenshots/.
//
//   node --test --test-concurrency=1 web.test.mjs      (scripts/test-web.sh does it all)
//
// XINYONG_BIN overrides the server binary (default: target/debug/xinyong), CHROMIUM the
// browser (default: /usr/bin/chromium).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const shots = join(here, 'screenshots');
const WEB = join(repo, 'crates/service/web');
const BIN = process.env.XINYONG_BIN || join(repo, 'target/debug/xinyong');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };
const WAIT = { timeout: 15000 };

const operatorToken = randomBytes(32).toString('hex');
let server;
let base;
let browser;
const w = {}; // the world: tokens and ids

async function call(token, method, path, body) {
  return callAt(base, token, method, path, body);
}

/** `call` on another server (the denunciation test runs its own). */
async function callAt(url, token, method, path, body) {
  const response = await fetch(url + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const value = await response.json().catch(() => null);
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(value)}`);
  return value;
}
const op = (method, path, body) => call(operatorToken, method, path, body);

function startServer() {
  return new Promise((ok, fail) => {
    const child = spawn(BIN, ['serve', '--db', ':memory:', '--listen', '127.0.0.1:0'], {
      env: { ...process.env, XINYONG_OPERATOR_TOKEN: operatorToken, RUST_LOG: 'warn' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    const timer = setTimeout(() => fail(new Error(`the server printed no address in 30 s:\n${out}`)), 30000);
    child.on('error', fail);
    child.on('exit', (code) => fail(new Error(`the server exited (${code}) before listening:\n${out}`)));
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = out.match(/listening on (http:\/\/\S+)/);
      if (match) {
        clearTimeout(timer);
        ok({ child, url: match[1] });
      }
    });
  });
}

/**
 * The world: a full group of 4 (citizens 0–3: policy sizes 3–4, so nobody else fits), a
 * groupless citizen 4 reported into tier D, a reporter, a brand with a yogurt and a train
 * ticket, a KOL followed by citizen 0. Citizen 3 is reported for public drunkenness; the
 * close delivers the notices to citizens 0–2.
 */
async function setUp() {
  await op('PUT', '/v1/policy', { groups: { min_size: 3, max_size: 4 } });
  const four = await op('POST', '/v1/citizens', { count: 4 });
  w.citizens = four.citizens.map((c) => c.token);
  await op('POST', '/v1/groups/form');
  const banned = await op('POST', '/v1/citizens', { count: 1 });
  w.banned = banned.citizens[0].token;
  w.bannedId = banned.citizens[0].citizen;
  w.reporter = (await op('POST', '/v1/reporters', { name: 'camera network, district 3' })).token;
  const brand = await op('POST', '/v1/brands', { name: 'Mengniu' });
  w.brand = brand.token;
  const kol = await op('POST', '/v1/kols', { name: 'Li Jiaqi' });
  w.kol = kol.token;
  w.kolId = kol.kol;
  w.yogurt = (await call(w.brand, 'POST', '/v1/products', { name: 'Yogurt, 12 cups', list_price_fen: 4990 })).product;
  w.train = (await call(w.brand, 'POST', '/v1/products', {
    name: 'Beijing–Shanghai train ticket', list_price_fen: 55300, travel: true,
  })).product;
  await call(w.citizens[0], 'POST', `/v1/kols/${w.kolId}/follow`);
  for (let i = 0; i < 5; i++) {
    await call(w.reporter, 'POST', '/v1/incidents', { citizen: w.bannedId, kind: 'destroying_public_equipment' });
  }
  w.drunk = (await call(w.reporter, 'POST', '/v1/incidents', { citizen: 3, kind: 'public_drunkenness' })).incident;
  await op('POST', '/v1/days/close');
}

before(async () => {
  mkdirSync(shots, { recursive: true });
  ({ child: server, url: base } = await startServer());
  await setUp();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
});

/** A page signed in as `token` (the token put where the app keeps it). */
async function page(token, { locale = 'en-GB', viewport = PHONE, url = base } = {}) {
  const context = await browser.newContext({ locale, viewport, deviceScaleFactor: 1 });
  const errors = [];
  const p = await context.newPage();
  p.on('pageerror', (error) => errors.push(String(error)));
  // Refusals the test provokes (401, 403) are logged by Chromium as failed loads: not errors of the app.
  p.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) errors.push(message.text());
  });
  p.errors = errors;
  if (token) await context.addInitScript((t) => localStorage.setItem('xinyong.token', t), token);
  await p.goto(url + '/');
  if (token) {
    await p.locator('.live.live').waitFor(WAIT);
    await settled(p);
  }
  return p;
}

/** Waits until no refresh is scheduled or running (the screen is not about to be redrawn). */
async function settled(p) {
  await p.locator('body:not([data-refreshing])').waitFor({ state: 'attached', ...WAIT });
}

async function screenshot(p, name) {
  await settled(p);
  await p.evaluate(() => {
    document.getElementById('toasts').replaceChildren();
    window.scrollTo(0, 0); // else the sticky header is drawn where the page was scrolled to
  });
  await p.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

function noHorizontalScroll(p) {
  return p.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
}

test('the app and its assets are served with their types and cache headers', async () => {
  for (const [path, type] of [['/', 'text/html'], ['/app/app.js', 'text/javascript'], ['/app/app.css', 'text/css'], ['/app/icon.svg', 'image/svg+xml']]) {
    const response = await fetch(base + path);
    assert.equal(response.status, 200, path);
    assert.ok(response.headers.get('content-type').startsWith(type), `${path}: ${response.headers.get('content-type')}`);
    assert.equal(response.headers.get('cache-control'), 'no-cache');
    const etag = response.headers.get('etag');
    assert.ok(etag, `${path} has an ETag`);
    const again = await fetch(base + path, { headers: { 'If-None-Match': etag } });
    assert.equal(again.status, 304, `${path} unchanged is not sent again`);
  }
  const index = await fetch(base + '/');
  assert.match(index.headers.get('content-security-policy'), /script-src 'self'/);
});

test('every string the screens use exists in English and in French', async () => {
  // i18n.js reads the browser's language when it loads: give Node one (Node 21+ has it).
  if (!globalThis.navigator) globalThis.navigator = { language: 'en' };
  const { DICTIONARIES } = await import(pathToFileURL(join(WEB, 'i18n.js')).href);
  const keysOf = (name) => new Set(Object.keys(DICTIONARIES[name]));
  const en = keysOf('en');
  const fr = keysOf('fr');
  const used = new Set(['live', 'offline']);
  for (const file of readdirSync(WEB).filter((f) => f.endsWith('.js'))) {
    for (const m of readFileSync(join(WEB, file), 'utf8').matchAll(/\bt\('([a-z0-9_]+)'/g)) used.add(m[1]);
  }
  for (const prefix of ['role_citizen', 'role_kol', 'role_brand', 'role_reporter', 'role_operator', 'answer_expel', 'answer_keep',
    'appeal_not_appealed', 'appeal_filed', 'appeal_granted', 'appeal_rejected', 'restriction_travel', 'create_kols',
    'create_brands', 'create_reporters', 'cause_incident', 'cause_vote_expel', 'cause_vote_keep', 'cause_appeal_granted',
    'cause_abstain_counted_keep', 'cause_abstain_counted_expel', 'ev_appeal_granted', 'ev_appeal_rejected',
    'cause_denunciation_reward', 'cause_false_report', 'cause_voucher_issued', 'cause_voucher_used', 'cause_voucher_expired',
    'source_camera', 'source_denunciation', 'report_pending', 'report_confirmed', 'report_rejected']) used.add(prefix);
  const missing = [...used].filter((k) => !en.has(k) || !fr.has(k));
  assert.deepEqual(missing, [], 'keys missing from a dictionary');
});

test('sign-in: a pasted token is checked and the role detected', async () => {
  const p = await page(null, { viewport: PHONE });
  await p.locator('form.signin').waitFor(WAIT);
  await screenshot(p, 'signin');
  await p.fill('#token', 'not a token');
  await p.click('form.signin button[type=submit]');
  await p.locator('form.signin .error', { hasText: '64 hexadecimal' }).waitFor(WAIT);
  await p.fill('#token', randomBytes(32).toString('hex'));
  await p.click('form.signin button[type=submit]');
  await p.locator('form.signin .error', { hasText: 'no account' }).waitFor(WAIT);
  await p.fill('#token', w.citizens[1]);
  await p.click('form.signin button[type=submit]');
  await p.locator('#who .role', { hasText: 'Citizen' }).waitFor(WAIT);
  assert.equal(await p.evaluate(() => localStorage.getItem('xinyong.token')), w.citizens[1]);
  await p.click('#signout');
  await p.locator('form.signin').waitFor(WAIT);
  assert.equal(await p.evaluate(() => localStorage.getItem('xinyong.token')), null);
  assert.deepEqual(p.errors, []);
  await p.context().close();
});

test('citizen: answers a notice with Expel and sees +3 in the timeline after the close', async () => {
  const p = await page(w.citizens[0]);
  await p.locator('#score .score', { hasText: '1000' }).waitFor(WAIT);
  await p.locator('#score .tier', { hasText: 'A' }).waitFor(WAIT);
  const notice = p.locator(`#inbox .notice[data-incident="${w.drunk}"]`);
  await notice.waitFor(WAIT);
  assert.match(await notice.locator('.what').innerText(), /no\. 3 was reported for public drunkenness/);
  assert.equal((await notice.locator('button.expel .points').innerText()).trim(), '+3');
  assert.equal((await notice.locator('button.keep .points').innerText()).trim(), '−3');
  assert.match(await notice.locator('.deadline').innerText(), /Answer (today|before day \d+ closes)/);
  await p.locator('#group', { hasText: '4 members' }).waitFor(WAIT);
  await p.locator('#feed', { hasText: 'Li Jiaqi' }).waitFor(WAIT);
  await p.locator(`#shop .product[data-product="${w.train}"] .breakdown`).waitFor(WAIT);
  await notice.locator('button.expel').click();
  await notice.locator('.answered', { hasText: 'You answered "expel": +3' }).waitFor(WAIT);
  assert.ok(await notice.locator('button.expel').isDisabled());
  await screenshot(p, 'citizen-notice');
  // Another group-mate is reported today; the operator closes the day: the tally of the
  // answer and the new notice arrive through the event stream.
  // The other two notified agree: no. 3 is expelled at the close.
  for (const mate of [1, 2]) {
    await call(w.citizens[mate], 'POST', `/v1/notices/${w.drunk}/answer`, { answer: 'expel' });
  }
  w.litter = (await call(w.reporter, 'POST', '/v1/incidents', { citizen: 2, kind: 'littering' })).incident;
  await op('POST', '/v1/days/close');
  await p.locator(`#inbox .notice[data-incident="${w.litter}"]`).waitFor(WAIT);
  const entry = p.locator('#timeline li[data-cause="vote_expel"]');
  await entry.waitFor(WAIT);
  assert.equal((await entry.locator('.delta').innerText()).trim(), '+3');
  assert.match(await entry.locator('.why').innerText(), /you answered "expel" to the notice about/);
  await p.locator('#score .score', { hasText: '1003' }).waitFor(WAIT);
  assert.ok(await noHorizontalScroll(p), 'fits a phone screen');
  await screenshot(p, 'citizen');
  assert.deepEqual(p.errors, []);
  await p.context().close();
});

test('citizen: the group-buy progress bar moves when a group-mate orders (live)', async () => {
  const p = await page(w.citizens[0]);
  const pool = p.locator(`#shop .product[data-product="${w.yogurt}"] .pool`);
  await pool.waitFor(WAIT);
  assert.equal(await pool.getAttribute('data-units'), '0');
  assert.match(await pool.innerText(), /10 more for 20 % off/);
  // Group-mates order through the API, not this page: only the event stream tells it.
  await call(w.citizens[1], 'POST', '/v1/orders', { product: w.yogurt, units: 4 });
  await p.locator(`#shop .product[data-product="${w.yogurt}"] .pool[data-units="4"]`).waitFor(WAIT);
  await call(w.citizens[2], 'POST', '/v1/orders', { product: w.yogurt, units: 3 });
  const moved = p.locator(`#shop .product[data-product="${w.yogurt}"] .pool[data-units="7"]`);
  await moved.waitFor(WAIT);
  assert.match(await moved.innerText(), /3 more for 20 % off/);
  assert.equal(await moved.locator('[role=progressbar]').getAttribute('aria-valuenow'), '7');
  // Buying in place from the KOL feed joins the same pool.
  // The KOL promotes the yogurt: the follower's feed shows it live, with a buy-in-place button.
  await call(w.kol, 'POST', '/v1/promotions', { product: w.yogurt });
  const promo = p.locator('#feed .promo', { hasText: 'Yogurt' });
  await promo.waitFor(WAIT);
  await settled(p);
  await promo.locator('button.buy').click(WAIT);
  await p.locator(`#shop .product[data-product="${w.yogurt}"] .pool[data-units="8"]`).waitFor(WAIT);
  await p.locator('#orders', { hasText: 'Yogurt, 12 cups × 1' }).waitFor(WAIT);
  await settled(p);
  await p.locator('#shop').screenshot({ path: join(shots, 'citizen-shop.png') });
  // The README's picture: the same screen on a desktop (a notice waiting, the pool at 8).
  await p.setViewportSize(DESKTOP);
  await screenshot(p, 'citizen-desktop');
  copyFileSync(join(shots, 'citizen-desktop.png'), join(repo, 'docs/img/web-citizen.png'));
  assert.deepEqual(p.errors, []);
  await p.context().close();
});

test('citizen: a banned citizen sees the travel-ban banner and is refused a ticket with the reason', async () => {
  const p = await page(w.banned);
  const banner = p.locator('.banner.ban');
  await banner.waitFor(WAIT);
  assert.match(await banner.innerText(), /banned from travel/);
  assert.match(await banner.innerText(), /A score of 600 would lift the ban: 100 points to go/);
  await p.locator('#score .tier', { hasText: 'D' }).waitFor(WAIT);
  const ticket = p.locator(`#shop .product[data-product="${w.train}"]`);
  await ticket.locator('button.buy').click();
  const refusal = ticket.locator('p.refusal[role=alert]');
  await refusal.waitFor(WAIT);
  assert.match(await refusal.innerText(), /Refused: tier D bars travel \(score 500; 600 needed\)/);
  const incidents = p.locator('#incidents .incident');
  assert.equal(await incidents.count(), 5);
  await incidents.first().locator('button', { hasText: 'Appeal' }).click();
  await p.locator('#incidents', { hasText: 'Appeal filed' }).waitFor(WAIT);
  assert.ok(await noHorizontalScroll(p), 'fits a phone screen');
  await screenshot(p, 'citizen-banned');
  assert.deepEqual(p.errors, []);
  await p.context().close();
});

test('citizen: in French when the browser is French', async () => {
  const p = await page(w.citizens[2], { locale: 'fr-FR' });
  assert.equal(await p.evaluate(() => document.documentElement.lang), 'fr');
  await p.locator('#score h2', { hasText: 'Mon score' }).waitFor(WAIT);
  await p.locator('#timeline li[data-cause="vote_expel"] .why', { hasText: 'vous avez répondu « exclure » à l\'avis sur' }).waitFor(WAIT);
  await p.locator(`#shop .product[data-product="${w.yogurt}"] .pool`, { hasText: 'pour 20 % de remise' }).waitFor(WAIT);
  await p.locator('#who .role', { hasText: 'Citoyen' }).waitFor(WAIT);
  await p.locator('#incidents .incident', { hasText: 'un déchet jeté par terre, jour 1 : −5 points' }).waitFor(WAIT);
  await screenshot(p, 'citizen-fr');
  assert.deepEqual(p.errors, []);
  await p.context().close();
});

test('KOL: followers, credibility, promoting a product, sales through promotions', async () => {
  const p = await page(w.kol);
  await p.locator('#followers', { hasText: '1' }).waitFor(WAIT);
  await p.locator('#credibility-now').waitFor(WAIT);
  await p.locator('#promote', { hasText: 'Yogurt, 12 cups' }).waitFor(WAIT);
  await p.selectOption('#promote-product', String(w.train));
  await p.click('#promote button[type=submit]');
  await p.locator('#promote .tag', { hasText: 'train ticket' }).waitFor(WAIT);
  await op('POST', '/v1/days/close'); // settles the order bought through the KOL
  await p.locator('#units-sold', { hasText: '1' }).waitFor(WAIT);
  await p.locator('#sales svg.chart').waitFor(WAIT);
  assert.ok(await noHorizontalScroll(p), 'fits a phone screen');
  await p.locator('#credibility svg.chart').waitFor(WAIT);
  await screenshot(p, 'kol');
  assert.deepEqual(p.errors, []);
  await p.context().close();
});

test('brand: catalogue, orders and discounts granted, adding a product', async () => {
  const p = await page(w.brand);
  await p.locator(`#catalogue tr[data-product="${w.yogurt}"]`).waitFor(WAIT);
  await p.locator(`#catalogue tr[data-product="${w.train}"]`, { hasText: 'travel ticket' }).waitFor(WAIT);
  assert.equal((await p.locator('#brand-orders').innerText()).trim(), '3');
  await p.fill('#product-name', 'Pure milk, 250 ml');
  await p.fill('#product-price', '3.50');
  await p.click('#add-product button[type=submit]');
  await p.locator('#catalogue tr', { hasText: 'Pure milk, 250 ml' }).waitFor(WAIT);
  assert.ok(await noHorizontalScroll(p), 'fits a phone screen');
  await screenshot(p, 'brand');
  assert.deepEqual(p.errors, []);
  await p.context().close();
});

test('reporter: files an incident, text only', async () => {
  const p = await page(w.reporter);
  await p.locator('#incident-kind option', { hasText: 'littering' }).first().waitFor({ state: 'attached', ...WAIT });
  await p.fill('#incident-citizen', '1');
  await p.selectOption('#incident-kind', 'littering');
  await p.click('#report button[type=submit]');
  await p.locator('#filed li', { hasText: 'citizen 1, littering (−5)' }).waitFor(WAIT);
  await screenshot(p, 'reporter');
  assert.deepEqual(p.errors, []);
  await p.context().close();
});

test('operator: dashboard with live charts, policy, closing the day, deciding an appeal', async () => {
  const p = await page(operatorToken, { viewport: DESKTOP });
  await p.locator('[data-figure="citizens"] .value', { hasText: '5' }).waitFor(WAIT);
  await p.locator('[data-figure="banned"] .value', { hasText: '1 (20.0 %)' }).waitFor(WAIT);
  await p.locator('[data-figure="expulsions"] .value', { hasText: '1' }).waitFor(WAIT);
  for (const id of ['chart-scores', 'chart-tiers', 'chart-banned', 'chart-expulsions', 'chart-gmv']) {
    await p.locator(`#${id} svg.chart`).waitFor(WAIT);
  }
  await p.locator('#policy', { hasText: 'expel +3, keep −3' }).waitFor(WAIT);
  const appeal = p.locator('#appeals .appeal');
  await appeal.first().waitFor(WAIT);
  await screenshot(p, 'operator');
  await appeal.first().locator('button.grant').click();
  await p.locator('#appeals', { hasText: 'No appeal waiting' }).waitFor(WAIT);
  const day = Number(await p.locator('[data-figure="day"] .value').innerText());
  await p.click('#close-day');
  await p.locator('[data-figure="day"] .value', { hasText: String(day + 1) }).waitFor(WAIT);
  await p.locator('#status .day', { hasText: `Day ${day + 1}` }).waitFor(WAIT);
  // Live: an order placed elsewhere shows in the figures without a click.
  await call(w.citizens[3], 'POST', '/v1/orders', { product: w.yogurt, units: 2 });
  await p.locator('[data-figure="orders"] .value', { hasText: '(+1' }).waitFor({ timeout: 20000 });
  const banned = await page(w.banned);
  await banned.locator('#incidents', { hasText: 'Appeal granted' }).waitFor(WAIT);
  await banned.context().close();
  assert.deepEqual(p.errors, []);
  await p.context().close();
});

test('denunciation: a citizen reports a group-mate, the reporter confirms, the voucher lowers the price', async () => {
  // Off in the main world: no card, no chip.
  const off = await page(w.citizens[1]);
  await off.locator('#score .score').waitFor(WAIT);
  assert.ok(await off.locator('#denounce').isHidden(), 'no report card when denunciation is off');
  assert.ok(await off.locator('nav.chips a[href="#denounce"]').isHidden());
  assert.deepEqual(off.errors, []);
  await off.context().close();

  // A server of its own, whose policy enables denunciation: a group of three, a reporter,
  // a brand with a yogurt.
  const { child, url } = await startServer();
  try {
    const opAt = (method, path, body) => callAt(url, operatorToken, method, path, body);
    await opAt('PUT', '/v1/policy', { groups: { min_size: 3, max_size: 4 }, denunciation: { enabled: true } });
    const three = (await opAt('POST', '/v1/citizens', { count: 3 })).citizens;
    await opAt('POST', '/v1/groups/form');
    const reporter = (await opAt('POST', '/v1/reporters', { name: 'district office' })).token;
    const brand = (await opAt('POST', '/v1/brands', { name: 'Mengniu' })).token;
    const yogurt = (await callAt(url, brand, 'POST', '/v1/products', { name: 'Yogurt, 12 cups', list_price_fen: 4990 })).product;
    const [denouncer, accused] = three;

    // The citizen files a report through the card.
    const d = await page(denouncer.token, { url });
    const card = d.locator('#denounce');
    await card.waitFor(WAIT);
    assert.match(await card.locator('.denounce-note').innerText(),
      /a report, not an incident, until a reporter or the operator confirms it.*10 % off one order, usable for 30 days/);
    await d.locator('#denounce-kind option[value="littering"]').waitFor({ state: 'attached', ...WAIT });
    await d.fill('#denounce-accused', String(accused.citizen));
    await d.selectOption('#denounce-kind', 'littering');
    await card.locator('button[type=submit]').click();
    const mine = card.locator('#my-reports li[data-status="pending"]');
    await mine.waitFor(WAIT);
    assert.match(await mine.innerText(), new RegExp(`citizen ${accused.citizen}, littering .*waiting for a decision`));
    const report = await mine.getAttribute('data-report');
    await card.locator('#my-vouchers', { hasText: 'No voucher' }).waitFor(WAIT);
    assert.equal(await d.locator(`#shop .product[data-product="${yogurt}"] .breakdown .voucher`).count(), 0);
    assert.ok(await noHorizontalScroll(d), 'fits a phone screen');
    await screenshot(d, 'citizen-denounce');

    // The reporter confirms it from the queue.
    const r = await page(reporter, { url });
    const queued = r.locator(`#report-queue .report[data-report="${report}"]`);
    await queued.waitFor(WAIT);
    assert.match(await queued.innerText(), new RegExp(`citizen ${denouncer.citizen} reports citizen ${accused.citizen} for littering`));
    await screenshot(r, 'reporter-reports');
    await queued.locator('button.confirm').click();
    await r.locator('#report-queue', { hasText: 'No report waiting' }).waitFor(WAIT);
    assert.deepEqual(r.errors, []);
    await r.context().close();

    // The accused sees an incident reported by a group-mate — never by whom.
    const a = await page(accused.token, { url });
    const incident = a.locator('#incidents .incident', { hasText: 'littering' });
    await incident.waitFor(WAIT);
    assert.equal(await incident.locator('.source').getAttribute('data-source'), 'denunciation');
    assert.match(await incident.locator('.source').innerText(), /Reported by a group-mate/);
    assert.doesNotMatch(await a.locator('main').innerText(), new RegExp(report));
    assert.deepEqual(a.errors, []);
    await a.context().close();

    // The denouncer's report is confirmed and pays a voucher, usable from tomorrow.
    await d.reload();
    await d.locator('.live.live').waitFor(WAIT);
    await card.locator(`#my-reports li[data-report="${report}"][data-status="confirmed"]`).waitFor(WAIT);
    await card.locator('#my-vouchers li', { hasText: /10 % off one order, usable from day 1 to day 30/ }).waitFor(WAIT);
    // After the close the shop's quote takes the voucher off (live, through the event stream).
    await opAt('POST', '/v1/days/close');
    const voucher = d.locator(`#shop .product[data-product="${yogurt}"] .breakdown dd.voucher`);
    await voucher.waitFor(WAIT);
    assert.match(await d.locator(`#shop .product[data-product="${yogurt}"] .breakdown dt.voucher`).innerText(), /Voucher \(10 %\)/);
    assert.match(await voucher.innerText(), /^−.*\d/);
    await settled(d);
    await d.evaluate(() => document.getElementById('toasts').replaceChildren());
    await d.locator('#shop').screenshot({ path: join(shots, 'citizen-voucher.png') });
    assert.deepEqual(d.errors, []);
    await d.context().close();
  } finally {
    child.kill('SIGTERM');
  }
});

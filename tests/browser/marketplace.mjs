#!/usr/bin/env node
// The marketplace in Debian's headless Chromium on the running demo (payments in the local test
// mode): Northmoor sells its sepsis course (the demo's live listing); Riverside's training
// manager finds it, adds it paid by the learner; Riverside's learner enrols, pays on the test
// checkout page (which says it is a test), and starts the course; the manager sees the spending
// and Northmoor's manager the earnings. axe checks every marketplace page on the way.
//
//   TRELLIS_URL, TRELLIS_BASE_DOMAIN
//   TRELLIS_BUYER_SITE, TRELLIS_BUYER_EMAIL     a trust's demo training manager (buys)
//   TRELLIS_BUYER_LEARNER                      a learner of that trust
//   TRELLIS_SELLER_SITE, TRELLIS_SELLER_EMAIL   the selling trust's demo training manager
//   TRELLIS_PASSWORD                           the demo password
//
// Prints `ok - …` / `not ok - …`, then `N passed, M failed`; exits 1 on any failure.

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const CHROMIUM = '/usr/bin/chromium';
const T = 20_000;
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a', 'wcag22aa'];

let passed = 0;
let failed = 0;
const one = (s) => String(s).replace(/\s+/g, ' ').trim();
function check(cond, desc, details = []) {
  if (cond) { passed += 1; console.log(`ok - ${one(desc)}`); } else {
    failed += 1; console.log(`not ok - ${one(desc)}`);
    for (const d of details) console.log(`#   ${one(d)}`);
  }
  return cond;
}

const env = (k) => { const v = process.env[k]; if (!v) throw new Error(`${k} is not set`); return v; };
const url = new URL(env('TRELLIS_URL'));
const base = env('TRELLIS_BASE_DOMAIN');
const originOf = (site) => `${url.protocol}//${site}.${base}:${url.port}`;
const buyer = originOf(env('TRELLIS_BUYER_SITE'));
const seller = originOf(env('TRELLIS_SELLER_SITE'));
const password = env('TRELLIS_PASSWORD');

async function signIn(context, origin, email) {
  const page = await context.newPage();
  page.setDefaultTimeout(T);
  await page.goto(`${origin}/sign-in`);
  await page.fill('#email', email);
  await page.fill('#password', password);
  await Promise.all([page.waitForNavigation(), page.click('form[action="/sign-in"] button[type=submit]')]);
  if (page.url().endsWith('/terms')) {
    await Promise.all([page.waitForNavigation(), page.click('form[action="/terms"] button[type=submit]')]);
  }
  return page;
}

async function axe(page, label) {
  // The contexts bypass CSP, so axe can be injected as a script.
  await page.addScriptTag({ path: require.resolve('axe-core/axe.min.js') });
  const v = await page.evaluate(async (tags) => (await axe.run(document, { runOnly: { type: 'tag', values: tags } }))
    .violations.map((x) => `${x.id}: ${x.help} (${x.nodes.map((n) => n.target.join(' ')).join('; ')})`), AXE_TAGS);
  check(v.length === 0, `${label}: axe finds no WCAG 2.2 A/AA violation`, v);
}

const { chromium } = require('playwright-core');
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const manager = await browser.newContext({ bypassCSP: true });
  const m = await signIn(manager, buyer, env('TRELLIS_BUYER_EMAIL'));
  await m.goto(`${buyer}/marketplace`);
  check((await m.textContent('main')).includes('Recognising sepsis on the ward'), "the buyer's marketplace lists the demo listing");
  check((await m.textContent('main')).includes('Payments test mode'), 'the marketplace says payments are a test');
  await axe(m, "a trust's marketplace");
  await Promise.all([m.waitForNavigation(), m.click('a:has-text("Recognising sepsis on the ward")')]);
  check((await m.textContent('main')).includes('£35.00 per enrolment'), 'the listing shows its price');
  await axe(m, 'a listing');
  await m.check('#funding-learner');
  await Promise.all([m.waitForNavigation(), m.click('form[action$="/add"] button[type=submit]')]);
  check((await m.textContent('main')).includes('See it in your catalogue'), 'the manager added it, paid by the learner');
  const course = new URL(await m.getAttribute('a:has-text("See it in your catalogue")', 'href'), buyer).pathname;

  const learnerCtx = await browser.newContext({ bypassCSP: true });
  const l = await signIn(learnerCtx, buyer, env('TRELLIS_BUYER_LEARNER'));
  await l.goto(`${buyer}${course}`);
  check((await l.textContent('main')).includes('paid by you by card'), 'the learner sees who pays');
  await Promise.all([l.waitForNavigation(), l.click(`form[action="${course}/enrol"] button`)]);
  check((await l.textContent('main')).includes('You asked to join'), "the course's approval rule applies to a paid course too");
  await m.goto(`${buyer}/admin/enrolments`);
  await Promise.all([m.waitForNavigation(), m.click('button[value=approve]:has-text("Recognising sepsis")')]);
  await l.reload();
  check((await l.textContent('main')).includes('Pay £35.00 by card'), 'once approved, the learner is asked to pay');
  await axe(l, 'a course page waiting for payment');
  await Promise.all([l.waitForNavigation(), l.click(`form[action="${course}/pay"] button`)]);
  check(new URL(l.url()).pathname.startsWith('/payments/test/checkout/'), 'the learner is sent to the checkout');
  check((await l.textContent('main')).includes('no card is charged'), 'the checkout says it is a test');
  await axe(l, 'the test checkout page');
  await Promise.all([l.waitForNavigation(), l.click('button[value=pay]')]);
  check((await l.textContent('main')).includes('Payment received'), 'the payment is confirmed by the webhook before the learner returns');
  await l.goto(`${buyer}${course}`);
  check((await l.locator('a.nhsuk-button', { hasText: 'Start' }).count()) === 1, 'the learner can start the course');

  await m.goto(`${buyer}/marketplace/spending`);
  check((await m.textContent('main')).includes('Paid by card'), "the trust's spending shows the payment");
  await axe(m, 'the spending page');
  await m.setViewportSize({ width: 320, height: 640 });
  await m.goto(`${buyer}/marketplace/spending`);
  const wide = await m.evaluate(() => document.documentElement.scrollWidth);
  check(wide <= 320, `the spending page reflows at 320 px (page is ${wide} px wide)`);
  await m.setViewportSize({ width: 1280, height: 800 });

  const sellerCtx = await browser.newContext({ bypassCSP: true });
  const s = await signIn(sellerCtx, seller, env('TRELLIS_SELLER_EMAIL'));
  await s.goto(`${seller}/selling`);
  let earned = false;
  for (let i = 0; i < 50 && !earned; i += 1) {
    earned = (await s.textContent('main')).includes('£29.75');
    if (!earned) { await s.waitForTimeout(200); await s.reload(); }
  }
  check(earned, "the seller's earnings show the sale less commission (£35.00 - 15%)");
  await axe(s, 'the selling page');
} catch (e) {
  check(false, `the marketplace walk-through ran to the end: ${e.message}`);
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

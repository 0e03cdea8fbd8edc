#!/usr/bin/env node
// Browser checks of Trellis tenant sites, in Debian's headless Chromium.
//
//   TRELLIS_URL          the server's real address, e.g. http://127.0.0.1:41234
//   TRELLIS_BASE_DOMAIN  the platform's base domain, e.g. localhost
//   TRELLIS_SITES        JSON array of {"slug","name","primary"} (primary: #rgb or #rrggbb)
//   TRELLIS_SCREENSHOTS  optional directory; a full-page PNG is saved per page visited
//   TRELLIS_PLATFORM_ADMIN_EMAIL  optional: the platform administrator (the demo password, TRELLIS_MANAGER_PASSWORD)
//
// For each site: http://<slug>.<base>:<port>/ answers 200, its <h1> contains the
// site's name, .nhsuk-header's background-color is the site's primary colour, and
// axe (WCAG 2.0/2.1/2.2 A and AA) finds no violation. The platform landing page
// http://<base>:<port>/ answers 200, names every site and passes axe. An unknown
// host answers 404 and names no site. Sites' header colours differ from each other.
//
// Prints `ok - …` / `not ok - …` per check, then `N passed, M failed`; exits 1 on
// any failure. Run `scripts/install-test-deps.sh` first.

import { mkdir } from 'node:fs/promises';
import path from 'node:path';

import {
  ConfigError, TIMEOUT, axe, check, firstLine, launch, notOk, one, reflow, run, server, signIn, totp,
} from './lib.mjs';

function normalise(s) {
  return (s ?? '').replace(/\s+/g, ' ').trim();
}

function hexToRgb(hex) {
  const m = /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(String(hex).trim());
  if (!m) return null;
  let h = m[1];
  if (h.length === 3) h = [...h].map((c) => c + c).join('');
  const n = parseInt(h, 16);
  return `rgb(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255})`;
}

// The server (lib.mjs's `server`) and TRELLIS_SITES; every problem is reported at once.
function readConfig() {
  const errors = [];
  let srv = null;
  try {
    srv = server();
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    errors.push(...e.problems);
  }
  const rawSites = process.env.TRELLIS_SITES;

  let sites = [];
  if (!rawSites) errors.push('TRELLIS_SITES is not set');
  else {
    try {
      sites = JSON.parse(rawSites);
      if (!Array.isArray(sites) || sites.length === 0) {
        errors.push('TRELLIS_SITES must be a non-empty JSON array');
        sites = [];
      }
    } catch (e) {
      errors.push(`TRELLIS_SITES is not JSON: ${e.message}`);
    }
  }
  sites = sites.map((s, i) => {
    const slug = String(s?.slug ?? '').trim().toLowerCase();
    const name = normalise(s?.name);
    const rgb = hexToRgb(s?.primary ?? '');
    if (!/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/.test(slug)) errors.push(`site ${i}: bad slug ${JSON.stringify(s?.slug)}`);
    if (!name) errors.push(`site ${i}: missing name`);
    if (!rgb) errors.push(`site ${i}: primary is not a #rgb/#rrggbb colour: ${JSON.stringify(s?.primary)}`);
    return { slug, name, primary: s?.primary, rgb };
  });

  if (errors.length) throw new ConfigError(errors);
  return {
    ...srv,
    sites,
    screenshots: process.env.TRELLIS_SCREENSHOTS || null,
  };
}

async function screenshot(cfg, page, name) {
  if (!cfg.screenshots) return;
  try {
    await mkdir(cfg.screenshots, { recursive: true });
    await page.screenshot({ path: path.join(cfg.screenshots, `${name}.png`), fullPage: true });
  } catch (e) {
    console.log(`# screenshot ${name} failed: ${one(e.message)}`);
  }
}

// Opens url in a new page; returns { page, response } or null after recording a failure.
async function open(context, url, label) {
  const page = await context.newPage();
  page.setDefaultNavigationTimeout(TIMEOUT);
  page.setDefaultTimeout(TIMEOUT);
  try {
    const response = await page.goto(url, { waitUntil: 'load', timeout: TIMEOUT });
    if (!response) throw new Error('no response');
    return { page, response };
  } catch (e) {
    notOk(`${label}: load ${url}`, [firstLine(e)]);
    await page.close().catch(() => {});
    return null;
  }
}

// Signs in (lib.mjs's `signIn`); returns the page, or null after recording a failure.
async function signedIn(context, origin, email, password, label, options) {
  try {
    return await signIn(context, origin, email, password, options);
  } catch (e) {
    notOk(`${label}: sign in at ${origin}/sign-in`, [firstLine(e)]);
    return null;
  }
}

async function checkSite(cfg, context, site, colours) {
  const label = site.slug;
  const url = `${cfg.site(site.slug)}/`;
  const opened = await open(context, url, label);
  if (!opened) return;
  const { page, response } = opened;
  try {
    check(response.status() === 200, `${label}: HTTP ${response.status()} from ${url} (want 200)`);

    const h1 = normalise(await page.evaluate(() => document.querySelector('h1')?.textContent ?? null));
    check(
      h1.includes(site.name),
      `${label}: <h1> contains "${site.name}"`,
      [`<h1> text: ${h1 ? JSON.stringify(h1) : '(no <h1>)'}`],
    );

    const bg = await page.evaluate(() => {
      const el = document.querySelector('.nhsuk-header');
      return el ? getComputedStyle(el).backgroundColor : null;
    });
    colours.push({ slug: site.slug, bg });
    check(
      bg === site.rgb,
      `${label}: .nhsuk-header background-color is ${site.rgb} (${site.primary})`,
      [`got: ${bg ?? '(no .nhsuk-header element)'}`],
    );

    await screenshot(cfg, page, site.slug);
    await axe(page, label);
    await reflow(page, url, label);
  } finally {
    await page.close().catch(() => {});
  }
}

async function checkLanding(cfg, context) {
  const label = 'landing';
  const url = `${cfg.origin(cfg.base)}/`;
  const opened = await open(context, url, label);
  if (!opened) return;
  const { page, response } = opened;
  try {
    check(response.status() === 200, `${label}: HTTP ${response.status()} from ${url} (want 200)`);
    const text = normalise(await page.evaluate(() => document.body?.innerText ?? ''));
    for (const site of cfg.sites) {
      check(text.includes(site.name), `${label}: lists "${site.name}"`);
    }
    await screenshot(cfg, page, 'landing');
    await axe(page, label);
  } finally {
    await page.close().catch(() => {});
  }
}

// The account pages of the first site: each answers 200 and passes axe; the registration form,
// sent empty, answers with its error summary and inline errors, which must pass axe too.
const ACCOUNT_PATHS = ['/register', '/sign-in', '/password-reset', '/join', '/cookies'];

async function checkAccountPages(cfg, context) {
  const site = cfg.sites[0];
  if (!site) return;
  for (const path of ACCOUNT_PATHS) {
    const label = `${site.slug}${path}`;
    const url = `${cfg.site(site.slug)}${path}`;
    const opened = await open(context, url, label);
    if (!opened) continue;
    const { page, response } = opened;
    try {
      check(response.status() === 200, `${label}: HTTP ${response.status()} (want 200)`);
      await axe(page, label);
      await reflow(page, url, label);
      if (path === '/register') {
        await page.goto(url, { waitUntil: 'load', timeout: TIMEOUT });
        await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('button[type=submit]')]);
        const summary = await page.evaluate(() => document.querySelector('.nhsuk-error-summary')?.innerText ?? '');
        check(summary.includes('There is a problem'), `${label}: an empty form shows the error summary`);
        const focused = await page.evaluate(() => document.activeElement?.classList.contains('nhsuk-error-summary'));
        check(focused, `${label}: the error summary has the focus after a refused form`);
        await screenshot(cfg, page, `${site.slug}-register-errors`);
        await axe(page, `${label} with errors`);
      }
    } finally {
      await page.close().catch(() => {});
    }
  }
}

// Signed in as the demo's training manager (TRELLIS_MANAGER_EMAIL / TRELLIS_MANAGER_PASSWORD), the
// pages behind sign-in pass axe too: terms, profile, the admin pages and two-step set-up.
const SIGNED_IN_PATHS = ['/', '/admin', '/profile', '/admin/approvals', '/admin/staff', '/admin/site', '/admin/sso', '/admin/audit', '/account/mfa',
  '/courses', '/courses?q=fire', '/learning', '/admin/courses', '/admin/courses/new', '/admin/training', '/admin/enrolments',
  '/admin/compliance', '/admin/staff/import', '/account/details', '/account/details?find=north',
  '/admin/statistics', '/account/activity', '/account/activity?report=detail', '/account/tutors', '/admin/file-activity', '/account/my-data'];
// Refused input, shown as a page with its error summary: each passes axe and reflows too.
const ERROR_PATHS = [['/account/activity?from=2026-12-31&to=2026-01-01', 400], ['/admin/statistics?course=not-a-course', 400],
  ['/admin/file-activity?from-day=31&from-month=2&from-year=2026', 400]];

// The pages a learner reaches, with the answer each gives them.
const LEARNER_PATHS = [['/courses', 200], ['/learning', 200], ['/profile', 200], ['/account/details', 200],
  ['/account/activity', 200], ['/account/tutors', 200], ['/account/my-data', 200], ['/account/mfa', 200],
  ['/library', 200], ['/account/export', 200], ['/account/email', 200], ['/account/close', 200], ['/admin/staff', 403], ['/courses/not-a-course', 404]];

// Signed in as the demo's learner (TRELLIS_LEARNER_EMAIL, the same demo password): their home
// passes axe, reflows at 320 px and offers no administration.
async function checkLearnerHome(cfg, context) {
  const email = process.env.TRELLIS_LEARNER_EMAIL;
  const password = process.env.TRELLIS_MANAGER_PASSWORD;
  const slug = process.env.TRELLIS_MANAGER_SITE;
  if (!email || !password || !slug) return;
  const origin = cfg.site(slug);
  const label = `${slug} learner`;
  const page = await signedIn(context, origin, email, password, label);
  if (!page) return;
  try {
    check(new URL(page.url()).pathname === '/', `${label}: signed in and on their home page`, [`at ${page.url()}`]);
    const main = await page.textContent('main');
    check(main.includes('Training you need to do') && !main.includes('Your trust at a glance'),
      `${label}: the home shows their own training and nothing of the trust's figures`);
    const header = await page.textContent('header');
    check(!header.includes('Admin'), `${label}: no Admin entry for a learner`);
    await axe(page, `${label} home`);
    await reflow(page, `${origin}/`, `${label} home`);
    // Every page a learner reaches from the header and their home, and the refusal of a page
    // that is not theirs, pass axe and reflow at 320 px.
    for (const [path, want] of LEARNER_PATHS) {
      const response = await page.goto(`${origin}${path}`, { waitUntil: 'load', timeout: TIMEOUT });
      check(response?.status() === want, `${label} ${path}: HTTP ${response?.status()} (want ${want})`);
      await axe(page, `${label} ${path}`);
      await reflow(page, null, `${label} ${path}`);
    }
    await page.goto(`${origin}/`, { waitUntil: 'load', timeout: TIMEOUT });
    await screenshot(cfg, page, 'home-learner-desktop');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${origin}/`, { waitUntil: 'load', timeout: TIMEOUT });
    await screenshot(cfg, page, 'home-learner-phone');
  } finally {
    await page.close().catch(() => {});
  }
}

async function checkSignedInPages(cfg, context) {
  const email = process.env.TRELLIS_MANAGER_EMAIL;
  const password = process.env.TRELLIS_MANAGER_PASSWORD;
  const slug = process.env.TRELLIS_MANAGER_SITE;
  if (!email || !password || !slug) return;
  const origin = cfg.site(slug);
  const label = `${slug} signed in`;
  // The terms, shown at the first sign-in, pass axe too.
  const page = await signedIn(context, origin, email, password, label, { onTerms: (p) => axe(p, `${label} /terms`) });
  if (!page) return;
  try {
    check(new URL(page.url()).pathname === '/', `${label}: signed in and on their home page`, [`at ${page.url()}`]);
    const header = await page.textContent('header');
    check(header.includes('Signed in as') && header.includes('Sign out') && header.includes('Admin'),
      `${label}: the header says who is signed in, offers Sign out and the Admin page`, [header.replace(/\s+/g, ' ').trim()]);
    const home = await page.textContent('main');
    check(home.includes('Your trust at a glance') && !home.includes('Create an account'),
      `${label}: a training manager's home shows the trust at a glance and offers no registration`);
    for (const path of SIGNED_IN_PATHS) {
      const response = await page.goto(`${origin}${path}`, { waitUntil: 'load', timeout: TIMEOUT });
      check(response?.status() === 200, `${label} ${path}: HTTP ${response?.status()} (want 200)`);
      await axe(page, `${label} ${path}`);
    }
    for (const [path, want] of ERROR_PATHS) {
      const response = await page.goto(`${origin}${path}`, { waitUntil: 'load', timeout: TIMEOUT });
      check(response?.status() === want, `${label} ${path}: HTTP ${response?.status()} (want ${want})`);
      check((await page.textContent('main')).includes('There is a problem'), `${label} ${path}: the error summary says what is wrong`);
      await axe(page, `${label} ${path}`);
    }
    // Every page the training manager reaches reflows at phone width (WCAG 2.2 1.4.10).
    for (const path of SIGNED_IN_PATHS) await reflow(page, `${origin}${path}`, `${label} ${path}`);
    for (const [path] of ERROR_PATHS) await reflow(page, `${origin}${path}`, `${label} ${path}`);
    // Their home at desktop and phone width (for the guides: TRELLIS_SCREENSHOTS).
    await page.goto(`${origin}/`, { waitUntil: 'load', timeout: TIMEOUT });
    await screenshot(cfg, page, 'home-training-manager-desktop');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${origin}/`, { waitUntil: 'load', timeout: TIMEOUT });
    await screenshot(cfg, page, 'home-training-manager-phone');
    await page.setViewportSize({ width: 1280, height: 800 });
    // A course page and its editor, reached from the lists.
    await page.goto(`${origin}/courses`, { waitUntil: 'load', timeout: TIMEOUT });
    const course = await page.getAttribute('.nhsuk-card__heading a', 'href');
    check(Boolean(course), `${label}: the catalogue lists a course`);
    if (course) {
      const r = await page.goto(`${origin}${course}`, { waitUntil: 'load', timeout: TIMEOUT });
      check(r?.status() === 200, `${label} ${course}: HTTP ${r?.status()} (want 200)`);
      await axe(page, `${label} course page`);
    }
    await page.goto(`${origin}/admin/courses`, { waitUntil: 'load', timeout: TIMEOUT });
    const own = await page.getAttribute('table a[href^="/admin/courses/"]', 'href').catch(() => null);
    if (own) {
      const r = await page.goto(`${origin}${own}`, { waitUntil: 'load', timeout: TIMEOUT });
      check(r?.status() === 200, `${label} ${own}: HTTP ${r?.status()} (want 200)`);
      await axe(page, `${label} course editor`);
      const r2 = await page.goto(`${origin}${own}/sessions`, { waitUntil: 'load', timeout: TIMEOUT });
      check(r2?.status() === 200, `${label} ${own}/sessions: HTTP ${r2?.status()} (want 200)`);
      await axe(page, `${label} session form`);
    }
    // My activity's programme summary: tick the first programme, ask for the summary.
    await page.goto(`${origin}/account/activity`, { waitUntil: 'load', timeout: TIMEOUT });
    const programme = await page.$('input[name="programme"]');
    check(Boolean(programme), `${label}: My activity offers the trust's programmes as a filter`);
    if (programme) {
      await page.click('#programme summary');
      await programme.check();
      await page.check('#report-course');
      await Promise.all([page.waitForNavigation(), page.click('main form button[type=submit]')]);
      const main = await page.textContent('main');
      check(main.includes('Programme summary') && /\d+ of \d+ completed/.test(main),
        `${label}: the programme summary lists the programme's courses and how many are done`);
      await axe(page, `${label} programme summary`);
      await reflow(page, page.url(), `${label} programme summary`);
    }
    await screenshot(cfg, page, `${slug}-signed-in`);
  } catch (e) {
    notOk(`${label}: unexpected error`, [firstLine(e)]);
  } finally {
    await page.close().catch(() => {});
  }
}

async function checkUnknownHost(cfg, context) {
  const label = 'unknown host';
  const url = `${cfg.origin(`no-such-trust.${cfg.base}`)}/`;
  const opened = await open(context, url, label);
  if (!opened) return;
  const { page, response } = opened;
  try {
    check(response.status() === 404, `${label}: HTTP ${response.status()} from ${url} (want 404)`);
    // Whole document text, <title> included.
    const text = normalise(await page.evaluate(() => document.documentElement?.textContent ?? ''));
    const leaked = cfg.sites.filter((s) => text.includes(s.name)).map((s) => s.slug);
    check(
      leaked.length === 0,
      `${label}: page names no site`,
      leaked.length ? [`names: ${leaked.join(', ')}`] : [],
    );
    await screenshot(cfg, page, 'unknown-host');
  } finally {
    await page.close().catch(() => {});
  }
}

function checkColoursDiffer(colours) {
  if (colours.length < 2) {
    console.log('# header colours: fewer than two sites measured, nothing to compare');
    return;
  }
  const bySlug = new Map();
  for (const { slug, bg } of colours) {
    const key = bg ?? '(none)';
    if (!bySlug.has(key)) bySlug.set(key, []);
    bySlug.get(key).push(slug);
  }
  const clashes = [...bySlug.entries()].filter(([, slugs]) => slugs.length > 1);
  check(
    clashes.length === 0,
    `header colours differ across ${colours.length} sites`,
    clashes.map(([bg, slugs]) => `${slugs.join(', ')} share ${bg}`),
  );
}

// The platform administrator (TRELLIS_PLATFORM_ADMIN_EMAIL, the demo password): signs in on the
// platform's own address, sets up the required two-step verification from the key shown as text
// (the code computed as an authenticator app would), and lands on the platform's admin page; each
// page they reach passes axe and reflows at 320 px. Their home is photographed for the guides.
const PLATFORM_PATHS = ['/admin', '/admin/audit', '/admin/marketplace', '/marketplace', '/admin/file-activity', '/cookies'];

async function checkPlatformAdmin(cfg, browser) {
  const email = process.env.TRELLIS_PLATFORM_ADMIN_EMAIL;
  const password = process.env.TRELLIS_MANAGER_PASSWORD;
  if (!email || !password) return;
  const origin = cfg.origin(cfg.base);
  const label = 'platform administrator';
  const context = await browser.newContext({ bypassCSP: true });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  try {
    await page.goto(`${origin}/sign-in`, { waitUntil: 'load' });
    await page.fill('#email', email);
    await page.fill('#password', password);
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('form[action="/sign-in"] button[type=submit]')]);
    check(page.url().includes('/sign-in/mfa-setup'), `${label}: the first sign-in asks for two-step verification`, [page.url()]);
    await axe(page, `${label} two-step set-up`);
    const secret = (await page.textContent('strong.trellis-code')).trim();
    await page.fill('#code', totp(secret));
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('form[action="/sign-in/mfa-setup"] button[type=submit]')]);
    check((await page.textContent('main')).includes('recovery'), `${label}: two-step verification is on and the recovery codes are shown`);
    await axe(page, `${label} recovery codes`);
    for (const path of PLATFORM_PATHS) {
      const response = await page.goto(`${origin}${path}`, { waitUntil: 'load' });
      check(response?.status() === 200, `${label} ${path}: HTTP ${response?.status()} (want 200)`);
      await axe(page, `${label} ${path}`);
      await reflow(page, `${origin}${path}`, `${label} ${path}`);
    }
    await page.goto(`${origin}/admin`, { waitUntil: 'load' });
    check((await page.textContent('main')).includes('Waiting for you'), `${label}: the admin page says what waits`);
    await screenshot(cfg, page, 'home-platform-admin-desktop');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${origin}/admin`, { waitUntil: 'load' });
    await screenshot(cfg, page, 'home-platform-admin-phone');
  } catch (e) {
    notOk(`${label}: unexpected error`, [firstLine(e)]);
  } finally {
    await context.close().catch(() => {});
  }
}

async function main() {
  const cfg = readConfig();
  const browser = await launch(cfg);
  if (!browser) return;
  try {
    const context = await browser.newContext({ bypassCSP: true });
    const colours = [];
    for (const site of cfg.sites) {
      await checkSite(cfg, context, site, colours);
    }
    checkColoursDiffer(colours);
    await checkLanding(cfg, context);
    await checkAccountPages(cfg, context);
    await checkSignedInPages(cfg, context);
    await checkLearnerHome(cfg, context);
    await checkPlatformAdmin(cfg, browser);
    await checkUnknownHost(cfg, context);
    await context.close();
  } finally {
    await browser.close().catch(() => {});
  }
}

await run(main);

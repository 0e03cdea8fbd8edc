#!/usr/bin/env node
// Browser checks of Trellis tenant sites, in Debian's headless Chromium.
//
//   TRELLIS_URL          the server's real address, e.g. http://127.0.0.1:41234
//   TRELLIS_BASE_DOMAIN  the platform's base domain, e.g. localhost
//   TRELLIS_SITES        JSON array of {"slug","name","primary"} (primary: #rgb or #rrggbb)
//   TRELLIS_SCREENSHOTS  optional directory; a full-page PNG is saved per page visited
//
// For each site: http://<slug>.<base>:<port>/ answers 200, its <h1> contains the
// site's name, .nhsuk-header's background-color is the site's primary colour, and
// axe (WCAG 2.0/2.1/2.2 A and AA) finds no violation. The platform landing page
// http://<base>:<port>/ answers 200, names every site and passes axe. An unknown
// host answers 404 and names no site. Sites' header colours differ from each other.
//
// Prints `ok - …` / `not ok - …` per check, then `N passed, M failed`; exits 1 on
// any failure. Run `scripts/install-test-deps.sh` first.

import { createRequire } from 'node:module';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';

const require = createRequire(import.meta.url);

const CHROMIUM = '/usr/bin/chromium';
const NAV_TIMEOUT_MS = 20_000;
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a', 'wcag22aa'];
const MAX_TARGETS = 3;

let passed = 0;
let failed = 0;

function oneLine(s) {
  return String(s).replace(/\s+/g, ' ').trim();
}

function ok(desc) {
  passed += 1;
  console.log(`ok - ${oneLine(desc)}`);
}

function notOk(desc, details = []) {
  failed += 1;
  console.log(`not ok - ${oneLine(desc)}`);
  for (const d of details) console.log(`#   ${oneLine(d)}`);
}

function check(cond, desc, details = []) {
  if (cond) ok(desc);
  else notOk(desc, details);
  return cond;
}

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

function readConfig() {
  const errors = [];
  const rawUrl = process.env.TRELLIS_URL;
  const base = (process.env.TRELLIS_BASE_DOMAIN ?? '').trim().toLowerCase();
  const rawSites = process.env.TRELLIS_SITES;

  let url = null;
  if (!rawUrl) errors.push('TRELLIS_URL is not set');
  else {
    try {
      url = new URL(rawUrl);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        errors.push(`TRELLIS_URL must be http(s): ${rawUrl}`);
      }
    } catch {
      errors.push(`TRELLIS_URL is not a URL: ${rawUrl}`);
    }
  }
  if (!base) errors.push('TRELLIS_BASE_DOMAIN is not set');
  else if (!/^[a-z0-9.-]+$/.test(base)) errors.push(`TRELLIS_BASE_DOMAIN is not a host name: ${base}`);

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

  if (errors.length) return { errors };
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  const origin = (host) => `${url.protocol}//${host}:${port}/`;
  return {
    errors,
    url,
    base,
    sites,
    origin,
    screenshots: process.env.TRELLIS_SCREENSHOTS || null,
  };
}

async function screenshot(cfg, page, name) {
  if (!cfg.screenshots) return;
  try {
    await mkdir(cfg.screenshots, { recursive: true });
    await page.screenshot({ path: path.join(cfg.screenshots, `${name}.png`), fullPage: true });
  } catch (e) {
    console.log(`# screenshot ${name} failed: ${oneLine(e.message)}`);
  }
}

// Opens url in a new page; returns { page, response } or null after recording a failure.
async function open(context, url, label) {
  const page = await context.newPage();
  page.setDefaultNavigationTimeout(NAV_TIMEOUT_MS);
  page.setDefaultTimeout(NAV_TIMEOUT_MS);
  try {
    const response = await page.goto(url, { waitUntil: 'load', timeout: NAV_TIMEOUT_MS });
    if (!response) throw new Error('no response');
    return { page, response };
  } catch (e) {
    notOk(`${label}: load ${url}`, [e.message.split('\n')[0]]);
    await page.close().catch(() => {});
    return null;
  }
}

// WCAG 2.2 1.4.10 (reflow): at 320 CSS px nothing scrolls sideways. axe does not test it.
async function checkReflow(page, url, label) {
  const size = page.viewportSize();
  try {
    await page.setViewportSize({ width: 320, height: 640 });
    await page.goto(url, { waitUntil: 'load', timeout: NAV_TIMEOUT_MS });
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    // On a failure, name what sticks out (elements whose box ends beyond the screen's edge).
    const wide = width <= 320 ? [] : await page.evaluate(() => [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > 320.5)
      .slice(0, 5)
      .map((e) => `${e.tagName.toLowerCase()}.${String(e.className).split(' ').join('.')} ends at ${Math.round(e.getBoundingClientRect().right)} px`));
    check(width <= 320, `${label}: reflows at 320 px (page is ${width} px wide)`, wide);
  } finally {
    if (size) await page.setViewportSize(size);
  }
}

async function runAxe(page, axePath, label) {
  try {
    await page.addScriptTag({ path: axePath });
    const violations = await page.evaluate(async (tags) => {
      // eslint-disable-next-line no-undef
      const results = await axe.run(document, { runOnly: { type: 'tag', values: tags } });
      return results.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        count: v.nodes.length,
        targets: v.nodes.map((n) => n.target.join(' ')),
      }));
    }, AXE_TAGS);
    const details = [];
    for (const v of violations) {
      const shown = v.targets.slice(0, MAX_TARGETS).join(' | ');
      const more = v.count > MAX_TARGETS ? ` (+${v.count - MAX_TARGETS} more)` : '';
      details.push(`${v.id} (${v.impact}): ${v.help} — ${v.count} node(s): ${shown}${more}`);
    }
    check(
      violations.length === 0,
      `${label}: axe ${violations.length === 0 ? 'found no' : `found ${violations.length}`} WCAG 2.x A/AA violation(s)`,
      details,
    );
  } catch (e) {
    notOk(`${label}: axe run`, [e.message.split('\n')[0]]);
  }
}

async function checkSite(cfg, context, axePath, site, colours) {
  const label = site.slug;
  const url = cfg.origin(`${site.slug}.${cfg.base}`);
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
    await runAxe(page, axePath, label);
    await checkReflow(page, url, label);
  } finally {
    await page.close().catch(() => {});
  }
}

async function checkLanding(cfg, context, axePath) {
  const label = 'landing';
  const url = cfg.origin(cfg.base);
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
    await runAxe(page, axePath, label);
  } finally {
    await page.close().catch(() => {});
  }
}

// The account pages of the first site: each answers 200 and passes axe; the registration form,
// sent empty, answers with its error summary and inline errors, which must pass axe too.
const ACCOUNT_PATHS = ['/register', '/sign-in', '/password-reset', '/join'];

async function checkAccountPages(cfg, context, axePath) {
  const site = cfg.sites[0];
  if (!site) return;
  for (const path of ACCOUNT_PATHS) {
    const label = `${site.slug}${path}`;
    const url = `${cfg.origin(`${site.slug}.${cfg.base}`).replace(/\/$/, '')}${path}`;
    const opened = await open(context, url, label);
    if (!opened) continue;
    const { page, response } = opened;
    try {
      check(response.status() === 200, `${label}: HTTP ${response.status()} (want 200)`);
      await runAxe(page, axePath, label);
      await checkReflow(page, url, label);
      if (path === '/register') {
        await page.goto(url, { waitUntil: 'load', timeout: NAV_TIMEOUT_MS });
        await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('button[type=submit]')]);
        const summary = await page.evaluate(() => document.querySelector('.nhsuk-error-summary')?.innerText ?? '');
        check(summary.includes('There is a problem'), `${label}: an empty form shows the error summary`);
        const focused = await page.evaluate(() => document.activeElement?.classList.contains('nhsuk-error-summary'));
        check(focused, `${label}: the error summary has the focus after a refused form`);
        await screenshot(cfg, page, `${site.slug}-register-errors`);
        await runAxe(page, axePath, `${label} with errors`);
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
  '/admin/compliance', '/admin/staff/import', '/account/details', '/account/details?find=north'];

// Signed in as the demo's learner (TRELLIS_LEARNER_EMAIL, the same demo password): their home
// passes axe, reflows at 320 px and offers no administration.
async function checkLearnerHome(cfg, context, axePath) {
  const email = process.env.TRELLIS_LEARNER_EMAIL;
  const password = process.env.TRELLIS_MANAGER_PASSWORD;
  const slug = process.env.TRELLIS_MANAGER_SITE;
  if (!email || !password || !slug) return;
  const origin = cfg.origin(`${slug}.${cfg.base}`).replace(/\/$/, '');
  const label = `${slug} learner`;
  const opened = await open(context, `${origin}/sign-in`, label);
  if (!opened) return;
  const { page } = opened;
  try {
    await page.fill('#email', email);
    await page.fill('#password', password);
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('form[action="/sign-in"] button[type=submit]')]);
    if (page.url().endsWith('/terms')) {
      await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('form[action="/terms"] button[type=submit]')]);
    }
    check(new URL(page.url()).pathname === '/', `${label}: signed in and on their home page`, [`at ${page.url()}`]);
    const main = await page.textContent('main');
    check(main.includes('Training you need to do') && !main.includes('Your trust at a glance'),
      `${label}: the home shows their own training and nothing of the trust's figures`);
    const header = await page.textContent('header');
    check(!header.includes('Admin'), `${label}: no Admin entry for a learner`);
    await runAxe(page, axePath, `${label} home`);
    await checkReflow(page, `${origin}/`, `${label} home`);
    await page.goto(`${origin}/`, { waitUntil: 'load', timeout: NAV_TIMEOUT_MS });
    await screenshot(cfg, page, 'home-learner-desktop');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${origin}/`, { waitUntil: 'load', timeout: NAV_TIMEOUT_MS });
    await screenshot(cfg, page, 'home-learner-phone');
  } finally {
    await page.close().catch(() => {});
  }
}

async function checkSignedInPages(cfg, context, axePath) {
  const email = process.env.TRELLIS_MANAGER_EMAIL;
  const password = process.env.TRELLIS_MANAGER_PASSWORD;
  const slug = process.env.TRELLIS_MANAGER_SITE;
  if (!email || !password || !slug) return;
  const origin = cfg.origin(`${slug}.${cfg.base}`).replace(/\/$/, '');
  const label = `${slug} signed in`;
  const opened = await open(context, `${origin}/sign-in`, label);
  if (!opened) return;
  const { page } = opened;
  try {
    await page.fill('#email', email);
    await page.fill('#password', password);
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('form[action="/sign-in"] button[type=submit]')]);
    if (page.url().endsWith('/terms')) {
      await runAxe(page, axePath, `${label} /terms`);
      await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('form[action="/terms"] button[type=submit]')]);
    }
    check(new URL(page.url()).pathname === '/', `${label}: signed in and on their home page`, [`at ${page.url()}`]);
    const header = await page.textContent('header');
    check(header.includes('Signed in as') && header.includes('Sign out') && header.includes('Admin'),
      `${label}: the header says who is signed in, offers Sign out and the Admin page`, [header.replace(/\s+/g, ' ').trim()]);
    const home = await page.textContent('main');
    check(home.includes('Your trust at a glance') && !home.includes('Create an account'),
      `${label}: a training manager's home shows the trust at a glance and offers no registration`);
    for (const path of SIGNED_IN_PATHS) {
      const response = await page.goto(`${origin}${path}`, { waitUntil: 'load', timeout: NAV_TIMEOUT_MS });
      check(response?.status() === 200, `${label} ${path}: HTTP ${response?.status()} (want 200)`);
      await runAxe(page, axePath, `${label} ${path}`);
    }
    // Every page the training manager reaches reflows at phone width (WCAG 2.2 1.4.10).
    for (const path of SIGNED_IN_PATHS) await checkReflow(page, `${origin}${path}`, `${label} ${path}`);
    // Their home at desktop and phone width (for the guides: TRELLIS_SCREENSHOTS).
    await page.goto(`${origin}/`, { waitUntil: 'load', timeout: NAV_TIMEOUT_MS });
    await screenshot(cfg, page, 'home-training-manager-desktop');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${origin}/`, { waitUntil: 'load', timeout: NAV_TIMEOUT_MS });
    await screenshot(cfg, page, 'home-training-manager-phone');
    await page.setViewportSize({ width: 1280, height: 800 });
    // A course page and its editor, reached from the lists.
    await page.goto(`${origin}/courses`, { waitUntil: 'load', timeout: NAV_TIMEOUT_MS });
    const course = await page.getAttribute('.nhsuk-card__heading a', 'href');
    check(Boolean(course), `${label}: the catalogue lists a course`);
    if (course) {
      const r = await page.goto(`${origin}${course}`, { waitUntil: 'load', timeout: NAV_TIMEOUT_MS });
      check(r?.status() === 200, `${label} ${course}: HTTP ${r?.status()} (want 200)`);
      await runAxe(page, axePath, `${label} course page`);
    }
    await page.goto(`${origin}/admin/courses`, { waitUntil: 'load', timeout: NAV_TIMEOUT_MS });
    const own = await page.getAttribute('table a[href^="/admin/courses/"]', 'href').catch(() => null);
    if (own) {
      const r = await page.goto(`${origin}${own}`, { waitUntil: 'load', timeout: NAV_TIMEOUT_MS });
      check(r?.status() === 200, `${label} ${own}: HTTP ${r?.status()} (want 200)`);
      await runAxe(page, axePath, `${label} course editor`);
      const r2 = await page.goto(`${origin}${own}/sessions`, { waitUntil: 'load', timeout: NAV_TIMEOUT_MS });
      check(r2?.status() === 200, `${label} ${own}/sessions: HTTP ${r2?.status()} (want 200)`);
      await runAxe(page, axePath, `${label} session form`);
    }
    await screenshot(cfg, page, `${slug}-signed-in`);
  } catch (e) {
    notOk(`${label}: unexpected error`, [e.message.split('\n')[0]]);
  } finally {
    await page.close().catch(() => {});
  }
}

async function checkUnknownHost(cfg, context) {
  const label = 'unknown host';
  const url = cfg.origin(`no-such-trust.${cfg.base}`);
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

async function main() {
  const cfg = readConfig();
  if (cfg.errors.length) {
    notOk('configuration', cfg.errors);
    return;
  }

  let axePath;
  let chromium;
  try {
    axePath = require.resolve('axe-core/axe.min.js');
    ({ chromium } = await import('playwright-core'));
  } catch (e) {
    notOk('load playwright-core and axe-core (run scripts/install-test-deps.sh)', [e.message.split('\n')[0]]);
    return;
  }

  // Send the base domain and all its subdomains to the server's real address.
  const target = cfg.url.hostname;
  const resolverRules = `MAP *.${cfg.base} ${target}, MAP ${cfg.base} ${target}`;

  let browser;
  try {
    // playwright-core starts Chromium with a fresh temporary user-data dir.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      timeout: 60_000,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--host-resolver-rules=${resolverRules}`,
      ],
    });
  } catch (e) {
    notOk(`launch ${CHROMIUM} (run scripts/install-test-deps.sh)`, [e.message.split('\n')[0]]);
    return;
  }

  try {
    const context = await browser.newContext({ bypassCSP: true });
    const colours = [];
    for (const site of cfg.sites) {
      await checkSite(cfg, context, axePath, site, colours);
    }
    checkColoursDiffer(colours);
    await checkLanding(cfg, context, axePath);
    await checkAccountPages(cfg, context, axePath);
    await checkSignedInPages(cfg, context, axePath);
    await checkLearnerHome(cfg, context, axePath);
    await checkUnknownHost(cfg, context);
    await context.close();
  } finally {
    await browser.close().catch(() => {});
  }
}

try {
  await main();
} catch (e) {
  notOk('unexpected error', [e?.stack?.split('\n')[0] ?? String(e)]);
}
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 ? 1 : 0;

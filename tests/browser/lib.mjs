// Helpers shared by the browser tests (sites.mjs, elearning.mjs, marketplace.mjs, reporting.mjs,
// tutors.mjs).
//
// This module holds what each of them needs: the checks, printed as `ok - …` / `not ok - …`
// (details on `#   …` lines), and `run`, which ends with `N passed, M failed` (the line
// scripts/test adds up) and exit status 1 on any failure; the server's address read from
// TRELLIS_URL and TRELLIS_BASE_DOMAIN; Debian's headless Chromium, started with <site>.<base
// domain> sent to the server; signing in (accepting the terms when asked); axe (WCAG 2.0/2.1/2.2
// A and AA), naming up to three elements per violation; and reflow at 320 CSS px (WCAG 2.2
// 1.4.10), naming the elements that stick out; and the demo's email, read from the .eml files it
// writes to its mail directory.

import { createHmac } from 'node:crypto';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const CHROMIUM = '/usr/bin/chromium';
/** Milliseconds allowed for a navigation or a wait, unless a test says otherwise. */
export const TIMEOUT = 20_000;
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a', 'wcag22aa'];
const MAX_TARGETS = 3;

// ---- Checks and the summary ----

let passed = 0;
let failed = 0;

/** s on one line, runs of white space made one space. */
export function one(s) {
  return String(s).replace(/\s+/g, ' ').trim();
}

/** The first line of an error's message. */
export function firstLine(e) {
  return String(e?.message ?? e).split('\n')[0];
}

export function ok(desc) {
  passed += 1;
  console.log(`ok - ${one(desc)}`);
}

export function notOk(desc, details = []) {
  failed += 1;
  console.log(`not ok - ${one(desc)}`);
  for (const d of details) console.log(`#   ${one(d)}`);
}

/** Records one check; details are printed only when it fails. Returns cond. */
export function check(cond, desc, details = []) {
  if (cond) ok(desc);
  else notOk(desc, details);
  return cond;
}

/** A missing or malformed environment variable; `run` reports it as the `configuration` check. */
export class ConfigError extends Error {
  constructor(problems) {
    super(problems.join('; '));
    this.problems = problems;
  }
}

/**
 * Runs a test's main function, records anything it throws as a failed check, prints
 * `N passed, M failed` and exits: 0 if every check passed, 1 otherwise.
 */
export async function run(main) {
  try {
    await main();
  } catch (e) {
    if (e instanceof ConfigError) notOk('configuration', e.problems);
    else notOk('unexpected error', [e?.stack?.split('\n')[0] ?? String(e)]);
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed > 0 ? 1 : 0);
}

// ---- The environment ----

/** A required environment variable's value (a ConfigError if it is unset or empty). */
export function env(name) {
  const value = process.env[name];
  if (!value) throw new ConfigError([`${name} is not set`]);
  return value;
}

/**
 * The server, from TRELLIS_URL (its real address, e.g. http://127.0.0.1:41234) and
 * TRELLIS_BASE_DOMAIN (e.g. localhost): { url, base, port, origin(host), site(slug) }, origins
 * without a trailing slash. Throws a ConfigError naming every problem.
 */
export function server() {
  const problems = [];
  const raw = process.env.TRELLIS_URL;
  const base = (process.env.TRELLIS_BASE_DOMAIN ?? '').trim().toLowerCase();
  let url = null;
  if (!raw) problems.push('TRELLIS_URL is not set');
  else {
    try {
      url = new URL(raw);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') problems.push(`TRELLIS_URL must be http(s): ${raw}`);
    } catch {
      problems.push(`TRELLIS_URL is not a URL: ${raw}`);
    }
  }
  if (!base) problems.push('TRELLIS_BASE_DOMAIN is not set');
  else if (!/^[a-z0-9.-]+$/.test(base)) problems.push(`TRELLIS_BASE_DOMAIN is not a host name: ${base}`);
  if (problems.length) throw new ConfigError(problems);
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  const origin = (host) => `${url.protocol}//${host}:${port}`;
  return { url, base, port, origin, site: (slug) => origin(`${slug}.${base}`) };
}

// ---- Chromium ----

let axePath = null;

/**
 * Starts Debian's headless Chromium (playwright-core gives it a fresh temporary profile), with
 * the base domain and all its subdomains sent to the server's real address. Returns the
 * browser, or null after recording a failed check (playwright-core, axe-core or Chromium
 * missing: run scripts/install-test-deps.sh).
 */
export async function launch({ url, base }) {
  let chromium;
  try {
    axePath = require.resolve('axe-core/axe.min.js');
    ({ chromium } = await import('playwright-core'));
  } catch (e) {
    notOk('load playwright-core and axe-core (run scripts/install-test-deps.sh)', [firstLine(e)]);
    return null;
  }
  const target = url.hostname;
  try {
    return await chromium.launch({
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
        `--host-resolver-rules=MAP *.${base} ${target}, MAP ${base} ${target}`,
      ],
    });
  } catch (e) {
    notOk(`launch ${CHROMIUM} (run scripts/install-test-deps.sh)`, [firstLine(e)]);
    return null;
  }
}

/**
 * Signs email in on the site at origin, in a new page of context, and accepts the terms if they
 * are asked for (onTerms(page), if given, runs on the terms page first). Returns the page,
 * wherever the sign-in ended; checking where is the caller's. Throws if a step fails.
 */
export async function signIn(context, origin, email, password, { onTerms } = {}) {
  const page = await context.newPage();
  page.setDefaultNavigationTimeout(TIMEOUT);
  page.setDefaultTimeout(TIMEOUT);
  try {
    await page.goto(`${origin}/sign-in`, { waitUntil: 'load' });
    await page.fill('#email', email);
    await page.fill('#password', password);
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('form[action="/sign-in"] button[type=submit]')]);
    if (page.url().endsWith('/terms')) {
      if (onTerms) await onTerms(page);
      await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('form[action="/terms"] button[type=submit]')]);
    }
    return page;
  } catch (e) {
    await page.close().catch(() => {});
    throw e;
  }
}

// ---- Accessibility ----

/**
 * Runs axe (WCAG 2.0/2.1/2.2 A and AA) on the page as it is: one check, whose details name each
 * violation and up to three of its elements. axe is injected as a script, so the page's context
 * must bypass CSP. iframes: false leaves frames out (e.g. a package's content, on another
 * origin). A failure to run axe is a failed check too.
 */
export async function axe(page, label, { iframes = true } = {}) {
  try {
    await page.addScriptTag({ path: axePath ?? require.resolve('axe-core/axe.min.js') });
    const violations = await page.evaluate(async ({ tags, frames }) => {
      const results = await window.axe.run(document, { iframes: frames, runOnly: { type: 'tag', values: tags } });
      return results.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        count: v.nodes.length,
        targets: v.nodes.map((n) => n.target.join(' ')),
      }));
    }, { tags: AXE_TAGS, frames: iframes });
    const details = violations.map((v) => {
      const shown = v.targets.slice(0, MAX_TARGETS).join(' | ');
      const more = v.count > MAX_TARGETS ? ` (+${v.count - MAX_TARGETS} more)` : '';
      return `${v.id} (${v.impact}): ${v.help} — ${v.count} node(s): ${shown}${more}`;
    });
    check(
      violations.length === 0,
      `${label}: axe ${violations.length === 0 ? 'found no' : `found ${violations.length}`} WCAG 2.x A/AA violation(s)`,
      details,
    );
  } catch (e) {
    notOk(`${label}: axe run`, [firstLine(e)]);
  }
}

/**
 * WCAG 2.2 1.4.10 (reflow), which axe does not test: loads url in page at 320 × 640 CSS px and
 * checks nothing scrolls sideways; on a failure the details name up to five elements whose box
 * ends beyond the screen's edge. The page's viewport is put back afterwards (the page stays
 * at url). With url null the page is measured where it is, without loading anything (for a page
 * that answered a form, such as a form shown again with its errors).
 */
export async function reflow(page, url, label) {
  const size = page.viewportSize();
  try {
    await page.setViewportSize({ width: 320, height: 640 });
    if (url !== null) await page.goto(url, { waitUntil: 'load', timeout: TIMEOUT });
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    const wide = width <= 320 ? [] : await page.evaluate(() => [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > 320.5)
      .slice(0, 5)
      .map((e) => `${e.tagName.toLowerCase()}.${String(e.className).split(' ').join('.')} ends at ${Math.round(e.getBoundingClientRect().right)} px`));
    return check(width <= 320, `${label}: reflows at 320 px (page is ${width} px wide)`, wide);
  } finally {
    if (size) await page.setViewportSize(size);
  }
}

/**
 * Beside reflow: at wider screens (768 px, a tablet, and 1280 px, a desktop) the page, as it is,
 * does not scroll sideways either (a table wider than the page scrolls in its own box). One
 * check; the viewport is put back afterwards.
 */
export async function noSideways(page, label, widths = [768, 1280]) {
  const size = page.viewportSize();
  const wide = [];
  try {
    for (const width of widths) {
      await page.setViewportSize({ width, height: 800 });
      const w = await page.evaluate(() => document.documentElement.scrollWidth);
      if (w > width) wide.push(`${w} px wide at ${width} px`);
    }
  } finally {
    if (size) await page.setViewportSize(size);
  }
  return check(wide.length === 0, `${label}: nothing scrolls sideways at ${widths.join(' or ')} px`, wide);
}

/**
 * A form shown again with its errors: each field's error message (.nhsuk-error-message) has an
 * id, and the field (or its fieldset) names it in aria-describedby, so a screen reader reads the
 * message with the field (WCAG 2.2 1.3.1, 3.3.1). One check, naming the messages left out.
 */
export async function errorsDescribed(page, label) {
  const loose = await page.$$eval('main .nhsuk-error-message', (messages) => messages
    .filter((m) => !m.id || !document.querySelector(`[aria-describedby~="${CSS.escape(m.id)}"]`))
    .map((m) => `${m.id ? `#${m.id}` : '(no id)'}: ${m.textContent.trim()}`));
  return check(loose.length === 0, `${label}: each error message is tied to its field (aria-describedby)`, loose);
}

// A full-page PNG of the page as `<name>.png` in TRELLIS_SCREENSHOTS (the guides' pictures), when set.
export async function screenshot(page, name) {
  const dir = process.env.TRELLIS_SCREENSHOTS;
  if (!dir) return;
  try {
    const { mkdir } = await import('node:fs/promises');
    const path = await import('node:path');
    await mkdir(dir, { recursive: true });
    await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
  } catch (e) {
    console.log(`# screenshot ${name} failed: ${one(e.message)}`);
  }
}

// The time-based one-time code (RFC 6238: SHA-1, 6 digits, 30 s) for a base32 key, as an
// authenticator app would show it: for signing in where two-step verification is required.
export function totp(secret, at = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/[\s=]/g, '').toUpperCase()) {
    const v = alphabet.indexOf(c);
    if (v < 0) throw new Error(`not a base32 key: ${secret}`);
    bits += v.toString(2).padStart(5, '0');
  }
  const key = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) key.push(parseInt(bits.slice(i, i + 8), 2));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30_000)));
  const h = createHmac('sha1', Buffer.from(key)).update(counter).digest();
  const o = h[h.length - 1] & 0xf;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

// ---- Email ----

// One header's value from a block of headers (folded lines joined), RFC 2047 words decoded.
function header(block, name) {
  const unfolded = block.replace(/\r?\n[ \t]+/g, ' ');
  const m = new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(unfolded);
  if (!m) return '';
  return m[1].replace(/=\?([^?]+)\?([bq])\?([^?]*)\?=\s*/gi, (_, charset, enc, text) => (enc.toLowerCase() === 'b'
    ? Buffer.from(text, 'base64')
    : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9a-f]{2})/gi, (__, h) => String.fromCharCode(parseInt(h, 16))), 'latin1'))
    .toString('utf8')).trim();
}

// A MIME part's body, its transfer encoding undone.
function decoded(headers, body) {
  const encoding = header(headers, 'Content-Transfer-Encoding').toLowerCase();
  if (encoding === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (encoding === 'quoted-printable') {
    const bytes = body.replace(/=\r?\n/g, '').replace(/=([0-9a-f]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  }
  return body;
}

/**
 * One email the demo wrote (an .eml file in its mail directory): { file, to, subject, text, html,
 * calendar, links }, text and html being the plain and HTML alternatives decoded (inside nested
 * multiparts too), calendar an attached iCalendar file ('' if none), links every http(s) address
 * in the text.
 */
export function parseMail(file, raw) {
  const split = raw.search(/\r?\n\r?\n/);
  const head = split < 0 ? raw : raw.slice(0, split);
  const body = split < 0 ? '' : raw.slice(split).replace(/^\r?\n\r?\n/, '');
  const mail = {
    file, to: header(head, 'To'), subject: header(head, 'Subject'), unsubscribe: header(head, 'List-Unsubscribe'), text: '', html: '', calendar: '',
  };
  const walk = (h, b) => {
    const type = header(h, 'Content-Type').toLowerCase();
    const boundary = /boundary="?([^";\s]+)"?/i.exec(header(h, 'Content-Type'))?.[1];
    if (type.startsWith('multipart/') && boundary) {
      for (const part of b.split(`--${boundary}`).slice(1).filter((x) => !x.startsWith('--'))) {
        const p = part.replace(/^\r?\n/, '');
        const at = p.search(/\r?\n\r?\n/);
        walk(at < 0 ? p : p.slice(0, at), at < 0 ? '' : p.slice(at).replace(/^\r?\n\r?\n/, ''));
      }
    } else if (type.startsWith('text/html')) mail.html ||= decoded(h, b);
    else if (type.startsWith('text/calendar')) mail.calendar ||= decoded(h, b);
    else if (type.startsWith('text/plain') || !type) mail.text ||= decoded(h, b);
  };
  walk(head, body);
  mail.links = [...mail.text.matchAll(/https?:\/\/[^\s<>"]+/g)].map((m) => m[0]);
  return mail;
}

/**
 * Waits (up to timeout ms) for an email to `to` whose subject contains `subject`, in the demo's
 * mail directory dir (TRELLIS_MAIL_DIR; the demo writes each email as an .eml file once its
 * outbox sends it). Returns the newest such email (see parseMail), or throws naming the subjects
 * that did reach `to`.
 */
export async function waitForMail(dir, to, subject, { timeout = TIMEOUT } = {}) {
  const { readdir, readFile, stat } = await import('node:fs/promises');
  const path = await import('node:path');
  const end = Date.now() + timeout;
  let theirs = [];
  for (;;) {
    const names = await readdir(dir).catch(() => []);
    const found = [];
    theirs = [];
    for (const name of names.filter((n) => n.endsWith('.eml'))) {
      const file = path.join(dir, name);
      const mail = parseMail(file, await readFile(file, 'utf8').catch(() => ''));
      if (mail.to.toLowerCase().replace(/^.*<|>.*$/g, '') !== to.toLowerCase()) continue;
      theirs.push(mail.subject);
      if (mail.subject.includes(subject)) found.push({ mail, at: (await stat(file)).mtimeMs });
    }
    if (found.length) return found.sort((a, b) => b.at - a.at)[0].mail;
    if (Date.now() > end) {
      throw new Error(`no email to ${to} about "${subject}" in ${dir} after ${timeout} ms (their emails: ${theirs.map((s) => JSON.stringify(s)).join(', ') || 'none'})`);
    }
    await new Promise((r) => { setTimeout(r, 200); });
  }
}

// ---- Journey steps shared by reporting.mjs and tutors.mjs ----

/** The day `days` from today in the trust's time zone, as the NHS date input takes it. */
export function dayParts(days) {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/London', day: 'numeric', month: 'numeric', year: 'numeric' })
    .formatToParts(new Date(Date.now() + days * 86_400_000));
  const get = (t) => parts.find((p) => p.type === t).value;
  return { day: get('day'), month: get('month'), year: get('year') };
}

/** Types the day `days` from today into the date input `id`. */
export async function fillDate(page, id, days) {
  const d = dayParts(days);
  await page.fill(`#${id}-day`, d.day);
  await page.fill(`#${id}-month`, d.month);
  await page.fill(`#${id}-year`, d.year);
}

/** Submits the form that button (a selector) belongs to and waits for the page that answers. */
export async function submit(page, button) {
  const [response] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click(button)]);
  return response;
}

/**
 * The page answering an action says what happened: its success banner (the NHS notification
 * banner, role="alert") holds words, and the page in that state passes axe, reflows at 320 px and
 * does not scroll sideways. Returns the banner's text ('' without one).
 */
export async function said(page, label, words) {
  const text = one(await page.$eval('.nhsuk-notification-banner--success', (b) => b.textContent).catch(() => ''));
  check(text.includes(words), `${label}: the page says "${words}"`,
    [text ? `banner: ${text}` : `no success banner; main: ${one(await page.textContent('main')).slice(0, 300)}`]);
  await checkPage(page, `${label} (said so)`, null);
  return text;
}

/**
 * A refused form shown again: the error summary has the focus and includes words, each message is
 * tied to its field, and the page passes axe and reflows.
 */
export async function refusedWith(page, label, words) {
  const summary = one(await page.$eval('.nhsuk-error-summary', (e) => e.textContent).catch(() => ''));
  check(summary.includes('There is a problem') && summary.includes(words), `${label}: refused, the summary says "${words}"`,
    [summary || `no error summary; main: ${one(await page.textContent('main')).slice(0, 300)}`]);
  const focused = await page.evaluate(() => document.activeElement?.classList.contains('nhsuk-error-summary'));
  check(focused, `${label}: the error summary has the focus`);
  await errorsDescribed(page, label);
  await checkPage(page, `${label} (refused)`, null);
}

/** The page's main text, on one line. */
export const main = async (page) => one(await page.textContent('main'));

/**
 * axe, then reflow at 320 px of the page (url null: as it is, without loading it again), no
 * sideways scrolling at 768 and 1280 px either, and screenshots named shot (desktop) and
 * shot-320 (phone) when TRELLIS_SCREENSHOTS is set.
 */
export async function checkPage(page, label, url, shot) {
  await axe(page, label);
  await reflow(page, url, label);
  await noSideways(page, label);
  if (!shot || !process.env.TRELLIS_SCREENSHOTS) return;
  await screenshot(page, shot);
  const size = page.viewportSize();
  await page.setViewportSize({ width: 320, height: 640 });
  await screenshot(page, `${shot}-320`);
  await page.setViewportSize(size);
}

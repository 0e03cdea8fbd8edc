#!/usr/bin/env node
// The resource library in Debian's headless Chromium, end to end on the running demo. The
// training manager opens the library from the header, sends the new-resource form empty (refused,
// every field named), then shares an image under CC BY with its alt text after accepting the
// content policy: the resource's page shows it with its licence linked (rel="license"). They rate
// it and leave feedback (each said so). The learner finds it by searching, and reports it (empty:
// refused; then sent). The manager's moderation page lists the report; they hide the resource
// (the learner can no longer open it), restore it, and then remove it with a reason, which
// emails nobody but its contributor (the manager here). axe and the 320 px reflow check run on
// each page.
//
//   TRELLIS_URL, TRELLIS_BASE_DOMAIN
//   TRELLIS_MAIL_DIR       the demo's mail directory (each email an .eml file)
//   TRELLIS_SITE           the trust, e.g. northmoor
//   TRELLIS_MANAGER_EMAIL  its demo training manager
//   TRELLIS_LEARNER_EMAIL  its demo learner
//   TRELLIS_PASSWORD       the demo password
//
// Prints `ok - …` / `not ok - …`, then `N passed, M failed`; exits 1 on any failure.

import {
  check, checkPage, env, errorsDescribed, launch, main, run, server, signIn, submit, waitForMail,
} from './lib.mjs';

// A 1×1 PNG.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

await run(async () => {
  const srv = server();
  const origin = srv.site(env('TRELLIS_SITE'));
  const mailDir = env('TRELLIS_MAIL_DIR');
  const managerEmail = env('TRELLIS_MANAGER_EMAIL');
  const learnerEmail = env('TRELLIS_LEARNER_EMAIL');
  const password = env('TRELLIS_PASSWORD');
  const title = `Five moments poster ${Date.now().toString(36)}`;
  const browser = await launch(srv);
  if (!browser) return;
  try {
    // ---- The manager shares a resource. ----
    const managerCtx = await browser.newContext({ bypassCSP: true });
    const boss = await signIn(managerCtx, origin, managerEmail, password);
    await boss.goto(`${origin}/`, { waitUntil: 'load' });
    await submit(boss, 'nav a[href="/library"]');
    let text = await main(boss);
    check(new URL(boss.url()).pathname === '/library' && text.includes('Resource library'),
      'the header leads to the resource library', [text.slice(0, 300)]);
    await checkPage(boss, '/library', `${origin}/library`, 'library');
    await submit(boss, 'a[href="/library/new"]');
    await checkPage(boss, '/library/new', `${origin}/library/new`, 'library-new');
    await boss.click('label[for="kind-image"]');
    let r = await submit(boss, 'form[action="/library"] button[type=submit]');
    text = await main(boss);
    check(r?.status() === 400 && text.includes('There is a problem') && text.includes('Enter a title')
      && text.includes('Choose a file to upload') && text.includes('Describe the image'),
    `sent empty, it is refused naming each field (${r?.status()})`, [text.slice(0, 400)]);
    await errorsDescribed(boss, '/library/new with errors');
    await checkPage(boss, '/library/new with errors', null, 'library-new-errors');
    const policy = await boss.$('#policy');
    if (policy) await boss.check('#policy');
    await boss.click('label[for="kind-image"]');
    await boss.fill('#title', title);
    await boss.fill('#description', 'The five moments for hand hygiene, as a ward poster.');
    await boss.fill('#keywords', 'hand hygiene, infection prevention');
    await boss.setInputFiles('#file', { name: 'poster.png', mimeType: 'image/png', buffer: PNG });
    await boss.fill('#alt_text', 'Five hands around a patient\'s bed, one at each moment for hand hygiene');
    await boss.click('label[for="licence-cc-by"]');
    await boss.fill('#attribution_name', 'Infection prevention team');
    await boss.check('#confirm');
    r = await submit(boss, 'form[action="/library"] button[type=submit]');
    text = await main(boss);
    const resource = new URL(boss.url()).pathname;
    const licence = await boss.getAttribute('a[rel="license"]', 'href');
    const alt = await boss.getAttribute('img.trellis-library-image', 'alt');
    check(text.includes('Resource shared') && licence === 'https://creativecommons.org/licenses/by/4.0/' && alt?.startsWith('Five hands'),
      `shared: said so, its licence linked (${licence}) and its alt text given`, [text.slice(0, 300)]);
    await checkPage(boss, 'a resource', null, 'library-resource');
    await boss.click('label[for="stars-4"]');
    await submit(boss, 'form[action$="/rating"] button[type=submit]');
    text = await main(boss);
    check(text.includes('you rated it 4 out of 5') && text.includes('4.0 out of 5, from 1 rating'), 'rated: said so, and counted', [text.slice(0, 300)]);
    await boss.fill('#feedback', 'Clear enough to print for the ward.');
    await submit(boss, 'form[action$="/feedback"] button[type=submit]');
    text = await main(boss);
    check(text.includes('Thank you for your feedback') && text.includes('Clear enough to print'), 'feedback: said so, and shown', [text.slice(0, 300)]);

    // ---- The learner finds it and reports it. ----
    const learnerCtx = await browser.newContext({ bypassCSP: true });
    const lee = await signIn(learnerCtx, origin, learnerEmail, password);
    await lee.goto(`${origin}/library`, { waitUntil: 'load' });
    await lee.fill('#q', 'hygiene poster');
    await submit(lee, 'form[action="/library"] button[type=submit]');
    text = await main(lee);
    check(text.includes(title), 'the learner finds it by searching', [text.slice(0, 300)]);
    await checkPage(lee, 'library search', null, 'library-search');
    await submit(lee, `a[href="${resource}"]`);
    await submit(lee, `a[href="${resource}/report"]`);
    await checkPage(lee, 'report a resource', null, 'library-report');
    r = await submit(lee, 'form[action$="/report"] button[type=submit]');
    text = await main(lee);
    check(r?.status() === 400 && text.includes('Choose why you are reporting it'), `an empty report is refused (${r?.status()})`, [text.slice(0, 300)]);
    await errorsDescribed(lee, 'an empty report');
    await lee.click('label[for="reason-wrong"]');
    await lee.fill('#details', 'The third moment is drawn twice.');
    await submit(lee, 'form[action$="/report"] button[type=submit]');
    text = await main(lee);
    check(text.includes('has been reported'), 'reported: said so', [text.slice(0, 300)]);

    // ---- The manager moderates: hide, restore, remove with a reason. ----
    await boss.goto(`${origin}/admin`, { waitUntil: 'load' });
    await submit(boss, 'a[href="/admin/library"]');
    text = await main(boss);
    check(text.includes(title) && text.includes('The third moment is drawn twice.'), 'the moderation page lists the report', [text.slice(0, 300)]);
    await checkPage(boss, '/admin/library', null, 'library-moderation');
    const id = resource.split('/').pop();
    await submit(boss, `form[action="/admin/library/${id}"] button[value="hide"]`);
    text = await main(boss);
    check(text.includes('Hidden: only its contributor and content editors can see it'), 'hidden: said so', [text.slice(0, 300)]);
    r = await lee.goto(`${origin}${resource}`, { waitUntil: 'load' });
    check(r?.status() === 404, `the learner can no longer open it (${r?.status()})`);
    await checkPage(boss, '/admin/library with a hidden resource', null, 'library-hidden');
    await submit(boss, `form[action="/admin/library/${id}"] button[value="restore"]`);
    text = await main(boss);
    check(text.includes('Restored: everyone can see it again'), 'restored: said so', [text.slice(0, 300)]);
    r = await lee.goto(`${origin}${resource}`, { waitUntil: 'load' });
    check(r?.status() === 200, `the learner can open it again (${r?.status()})`);
    // Removing it from its own page's moderation needs a reason; then the contributor is told.
    await boss.goto(`${origin}${resource}/report`, { waitUntil: 'load' });
    await boss.click('label[for="reason-other"]');
    await boss.fill('#details', 'Superseded by the trust poster.');
    await submit(boss, 'form[action$="/report"] button[type=submit]');
    await boss.goto(`${origin}/admin/library`, { waitUntil: 'load' });
    await boss.fill(`#reason-${id}`, 'Superseded by the trust poster.');
    await submit(boss, `form[action="/admin/library/${id}"] button[value="remove"]`);
    text = await main(boss);
    check(text.includes('Removed, and its contributor told why') && text.includes(title), 'removed: said so, and listed as removed', [text.slice(0, 300)]);
    const told = await waitForMail(mailDir, managerEmail, "has been removed");
    check(told.text.includes('Superseded by the trust poster.'), 'the contributor is told why', [told.subject]);
  } finally {
    await browser.close();
  }
});

#!/usr/bin/env node
// The cookie banner in Debian's headless Chromium, on a demo trust that allows embedded videos
// (Fenwick): a visitor sees the NHS cookie banner first on the page, with accepting and refusing
// alike; refusing stores the choice (no cookie but the service's own listed ones), says so and hides the banner; the Cookies page
// lists that cookie and changes the choice (accepted, said so). A trust without embeds shows no
// banner. axe and the 320 px reflow check run on each page of it.
//
//   TRELLIS_URL, TRELLIS_BASE_DOMAIN
//   TRELLIS_SITE        a trust with `embeds` in its tenant.toml, e.g. fenwick
//   TRELLIS_PLAIN_SITE  a trust without, e.g. northmoor
//
// Prints `ok - …` / `not ok - …`, then `N passed, M failed`; exits 1 on any failure.

import { check, checkPage, env, launch, main, run, server, submit } from './lib.mjs';

await run(async () => {
  const srv = server();
  const origin = srv.site(env('TRELLIS_SITE'));
  const plain = srv.site(env('TRELLIS_PLAIN_SITE'));
  const browser = await launch(srv);
  if (!browser) return;
  try {
    const ctx = await browser.newContext({ bypassCSP: true });
    const page = await ctx.newPage();
    await page.goto(`${origin}/`, { waitUntil: 'load' });
    const banner = page.locator('.trellis-cookie-banner');
    const buttons = await banner.locator('button').allTextContents();
    const classes = await banner.locator('button').evaluateAll((bs) => bs.map((b) => b.className));
    check(await banner.count() === 1 && buttons.length === 2 && classes[0] === classes[1],
      'the banner asks, with accepting and refusing alike', [buttons.join(' | '), classes.join(' | ')]);
    check(await page.evaluate(() => document.body.firstElementChild?.classList.contains('trellis-cookie-banner')), 'the banner comes first on the page');
    check(await page.locator('iframe').count() === 0, 'no frame of another service before a choice');
    await checkPage(page, 'home with the cookie banner', `${origin}/`, 'cookie-banner');

    await submit(page, '.trellis-cookie-banner button[value="reject"]');
    const cookies = (await ctx.cookies()).map((c) => `${c.name}=${c.value}`);
    let text = one(await page.textContent('body'));
    check(text.includes('You have turned off video cookies') && await page.locator('.trellis-cookie-banner button').count() === 0,
      'refused: said so, and the banner asks no more', [text.slice(0, 200)]);
    const names = (await ctx.cookies()).map((c) => c.name);
    check(cookies.includes('trellis_consent=no') && names.every((n) => ['trellis_consent', 'trellis_csrf', 'trellis_session'].includes(n)),
      'the choice is stored, and no cookie but the service\'s own listed ones', names);
    await checkPage(page, 'the choice saved', null, 'cookie-saved');

    await page.goto(`${origin}/cookies`, { waitUntil: 'load' });
    text = await main(page);
    check(text.includes('trellis_consent') && await page.isChecked('#choice-reject'), 'the Cookies page lists the cookie and shows the choice', [text.slice(0, 300)]);
    await checkPage(page, '/cookies with the choice', `${origin}/cookies`, 'cookies-settings');
    await page.click('label[for="choice-accept"]');
    await submit(page, 'form[action="/cookies/consent"] button[type=submit]');
    text = one(await page.textContent('body'));
    check(text.includes('You have allowed video cookies') && await page.isChecked('#choice-accept'), 'changed there: allowed, and said so', [text.slice(0, 200)]);

    const other = await ctx.newPage();
    await other.goto(`${plain}/`, { waitUntil: 'load' });
    check(await other.locator('.trellis-cookie-banner').count() === 0, 'a trust without embedded videos shows no banner');
  } finally {
    await browser.close();
  }
});

function one(s) { return (s || '').replace(/\s+/g, ' ').trim(); }

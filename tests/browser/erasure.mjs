#!/usr/bin/env node
// Closing an account (erasure by anonymisation) in Debian's headless Chromium, end to end on the
// running demo: a learner signs in, follows "Close your account" from their profile to the page
// that says what is erased and what is kept and why, sends it without ticking the confirmation
// (refused, with its error summary), then ticks it and closes the account; the confirmation page
// says so, they are signed out, and signing in again is refused. axe and the 320 px reflow check
// run on each page of it. It erases the learner: run it last.
//
//   TRELLIS_URL, TRELLIS_BASE_DOMAIN
//   TRELLIS_SITE           the trust, e.g. riverside
//   TRELLIS_LEARNER_EMAIL  its demo learner
//   TRELLIS_PASSWORD       the demo password
//
// Prints `ok - …` / `not ok - …`, then `N passed, M failed`; exits 1 on any failure.

import { check, checkPage, env, errorsDescribed, launch, main, run, server, signIn, submit } from './lib.mjs';

await run(async () => {
  const srv = server();
  const origin = srv.site(env('TRELLIS_SITE'));
  const email = env('TRELLIS_LEARNER_EMAIL');
  const password = env('TRELLIS_PASSWORD');
  const browser = await launch(srv);
  if (!browser) return;
  try {
    const ctx = await browser.newContext({ bypassCSP: true });
    const page = await signIn(ctx, origin, email, password);
    await page.goto(`${origin}/profile`, { waitUntil: 'load' });
    await submit(page, 'a[href="/account/close"]');
    let text = await main(page);
    check(page.url().endsWith('/account/close') && text.includes('What is kept, and why') && text.includes('Payment records'),
      'the profile leads to the page that says what closing the account erases and keeps', [text.slice(0, 300)]);
    await checkPage(page, '/account/close', `${origin}/account/close`, 'close-account');

    let r = await submit(page, 'form[action="/account/close"] button[type=submit]');
    text = await main(page);
    check(r?.status() === 400 && text.includes('There is a problem') && text.includes('Tick the box to confirm'),
      `sent unticked, it is refused with an error summary (${r?.status()})`, [text.slice(0, 300)]);
    await errorsDescribed(page, '/account/close unticked');
    await checkPage(page, '/account/close unticked', null, 'close-account-error');

    await page.click('label[for="confirm"]');
    r = await submit(page, 'form[action="/account/close"] button[type=submit]');
    text = await main(page);
    check(r?.status() === 200 && text.includes('Your account is closed'), `ticked, the account is closed (${r?.status()})`, [text.slice(0, 300)]);
    await checkPage(page, 'account closed', null, 'account-closed');

    r = await page.goto(`${origin}/profile`, { waitUntil: 'load' });
    check(new URL(page.url()).pathname === '/sign-in', 'signed out: the profile asks for sign-in', [page.url()]);
    await page.fill('#email', email);
    await page.fill('#password', password);
    r = await submit(page, 'form[action="/sign-in"] button[type=submit]');
    check(r?.status() === 401, `signing in again is refused (${r?.status()})`);
  } finally {
    await browser.close();
  }
});

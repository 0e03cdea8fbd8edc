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

import {
  axe, check, env, launch, one, reflow, run, said, screenshot, server, signIn,
} from './lib.mjs';

await run(async () => {
  const srv = server();
  const buyer = srv.site(env('TRELLIS_BUYER_SITE'));
  const seller = srv.site(env('TRELLIS_SELLER_SITE'));
  const password = env('TRELLIS_PASSWORD');
  const buyerEmail = env('TRELLIS_BUYER_EMAIL');
  const learnerEmail = env('TRELLIS_BUYER_LEARNER');
  const sellerEmail = env('TRELLIS_SELLER_EMAIL');
  const browser = await launch(srv);
  if (!browser) return;
  try {
    // The contexts bypass CSP, so axe can be injected as a script.
    const manager = await browser.newContext({ bypassCSP: true });
    const m = await signIn(manager, buyer, buyerEmail, password);
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
    await said(m, 'a listing added to the catalogue', "Added to your trust's catalogue");
    const course = new URL(await m.getAttribute('a:has-text("See it in your catalogue")', 'href'), buyer).pathname;

    const learnerCtx = await browser.newContext({ bypassCSP: true });
    const l = await signIn(learnerCtx, buyer, learnerEmail, password);
    await l.goto(`${buyer}${course}`);
    check((await l.textContent('main')).includes('paid by you by card'), 'the learner sees who pays');
    await Promise.all([l.waitForNavigation(), l.click(`form[action="${course}/enrol"] button`)]);
    check((await l.textContent('main')).includes('You asked to join'), "the course's approval rule applies to a paid course too");
    await said(l, 'a place asked for', 'Request sent');
    await m.goto(`${buyer}/admin/enrolments`);
    await Promise.all([m.waitForNavigation(), m.click('button[value=approve]:has-text("Recognising sepsis")')]);
    await said(m, 'the request approved', 'Request approved');
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
    await reflow(m, `${buyer}/marketplace/spending`, 'the spending page');

    const sellerCtx = await browser.newContext({ bypassCSP: true });
    const s = await signIn(sellerCtx, seller, sellerEmail, password);
    await s.goto(`${seller}/selling`);
    let earned = false;
    for (let i = 0; i < 50 && !earned; i += 1) {
      earned = (await s.textContent('main')).includes('£29.75');
      if (!earned) { await s.waitForTimeout(200); await s.reload(); }
    }
    check(earned, "the seller's earnings show the sale less commission (£35.00 - 15%)");
    await axe(s, 'the selling page');
    await reflow(s, `${seller}/selling`, 'the selling page');
    // The seller's home: this month's sales, then at desktop and phone width for the guide.
    await s.goto(`${seller}/`);
    const home = await s.textContent('main');
    check(home.includes('Selling in the marketplace') && home.includes('1 sale, earning £29.75'),
      "the seller's home says this month's sales", [one(home).slice(0, 400)]);
    await axe(s, "the seller's home");
    await reflow(s, `${seller}/`, "the seller's home");
    await s.setViewportSize({ width: 1280, height: 800 });
    await s.goto(`${seller}/`);
    await screenshot(s, 'home-seller-desktop');
    await s.setViewportSize({ width: 390, height: 844 });
    await s.goto(`${seller}/`);
    await screenshot(s, 'home-seller-phone');
  } catch (e) {
    check(false, `the marketplace walk-through ran to the end: ${e.message}`);
  } finally {
    await browser.close();
  }
});

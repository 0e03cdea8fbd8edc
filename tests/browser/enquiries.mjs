#!/usr/bin/env node
// The enquiry desk in Debian's headless Chromium, end to end on the running demo: someone not
// signed in opens Contact us from the footer, sends it empty (refused, with its error summary),
// then sends a request to close an account and gets a reference and the day it will be dealt
// with; the acknowledgement email carries their private link. The training manager finds it at
// Enquiries, opens it, sends an empty reply (refused) and then a reply (a success banner); the
// enquirer opens their link, reads the reply and adds to it; then writes to the platform's own
// desk from its footer. axe and the 320 px reflow check run on each page of it.
//
//   TRELLIS_URL, TRELLIS_BASE_DOMAIN
//   TRELLIS_MAIL_DIR       the demo's mail directory (each email an .eml file)
//   TRELLIS_SITE           the trust, e.g. northmoor
//   TRELLIS_MANAGER_EMAIL  its demo training manager
//   TRELLIS_PASSWORD       the demo password
//
// Prints `ok - …` / `not ok - …`, then `N passed, M failed`; exits 1 on any failure.

import {
  check, checkPage, env, errorsDescribed, launch, main, run, server, signIn, submit, waitForMail,
} from './lib.mjs';

await run(async () => {
  const srv = server();
  const origin = srv.site(env('TRELLIS_SITE'));
  const mailDir = env('TRELLIS_MAIL_DIR');
  const managerEmail = env('TRELLIS_MANAGER_EMAIL');
  const password = env('TRELLIS_PASSWORD');
  const email = `jo.enquirer.${Date.now().toString(36)}@example.nhs.uk`;
  const browser = await launch(srv);
  if (!browser) return;
  try {
    // ---- Someone not signed in: the form from the footer, empty, then sent. ----
    const visitorCtx = await browser.newContext({ bypassCSP: true });
    const jo = await visitorCtx.newPage();
    await jo.goto(`${origin}/`, { waitUntil: 'load' });
    await submit(jo, 'footer a[href="/contact"]');
    let text = await main(jo);
    check(new URL(jo.url()).pathname === '/contact' && text.includes('within 5 working days'),
      'the footer leads to Contact us, which says how soon an account is closed', [text.slice(0, 300)]);
    await checkPage(jo, '/contact', `${origin}/contact`, 'contact');
    let r = await submit(jo, 'form[action="/contact"] button[type=submit]');
    text = await main(jo);
    check(r?.status() === 400 && text.includes('There is a problem') && text.includes('Enter your name') && text.includes('Enter your message'),
      `sent empty, it is refused naming each field (${r?.status()})`, [text.slice(0, 300)]);
    await errorsDescribed(jo, '/contact with errors');
    await checkPage(jo, '/contact with errors', null, 'contact-errors');
    await jo.fill('#name', 'Jo Enquirer');
    await jo.fill('#email', email);
    await jo.click('label[for="topic-account"]');
    await jo.fill('#message', 'Please close my account: I have left.');
    r = await submit(jo, 'form[action="/contact"] button[type=submit]');
    text = await main(jo);
    const reference = (text.match(/ENQ-[A-Z0-9]{8}/) || [])[0];
    check(r?.status() === 200 && Boolean(reference) && text.includes('within 5 working days, by'),
      `sent: a reference (${reference}) and the day it will be dealt with`, [text.slice(0, 300)]);
    await checkPage(jo, 'enquiry sent', null, 'contact-sent');
    const ack = await waitForMail(mailDir, email, `[${reference}] We have your enquiry`);
    const link = ack.links.find((l) => l.includes('/contact/'));
    check(Boolean(link), 'the acknowledgement carries the private link to the thread', [ack.subject]);

    // ---- The desk: the list, the enquiry, an empty reply, a reply. ----
    const deskCtx = await browser.newContext({ bypassCSP: true });
    const desk = await signIn(deskCtx, origin, managerEmail, password);
    await desk.goto(`${origin}/admin/enquiries`, { waitUntil: 'load' });
    text = await main(desk);
    check(text.includes(reference) && text.includes('Waiting for a reply'), 'the desk lists it as waiting', [text.slice(0, 300)]);
    await checkPage(desk, '/admin/enquiries', `${origin}/admin/enquiries`, 'enquiries');
    await submit(desk, `a:has-text("${reference}")`);
    text = await main(desk);
    check(text.includes('I have left.') && text.includes('To be dealt with by'), 'the enquiry shows its message and due day', [text.slice(0, 300)]);
    const deskUrl = desk.url();
    await checkPage(desk, 'an enquiry at the desk', deskUrl, 'enquiry-desk');
    r = await submit(desk, 'form[action$="/reply"] button[type=submit]');
    text = await main(desk);
    check(r?.status() === 400 && text.includes('Enter your reply'), `an empty reply is refused (${r?.status()})`, [text.slice(0, 300)]);
    await errorsDescribed(desk, 'an empty reply');
    await checkPage(desk, 'an empty reply', null, 'enquiry-reply-error');
    await desk.fill('#message', 'We will close it today. Which trust email did you use?');
    r = await submit(desk, 'form[action$="/reply"] button[type=submit]');
    text = await main(desk);
    check(text.includes('Your reply has been sent') && text.includes('Which trust email did you use?'), 'replied: said so, and in the thread', [text.slice(0, 300)]);
    await checkPage(desk, 'an enquiry replied to', null, 'enquiry-replied');
    await waitForMail(mailDir, email, `Re: [${reference}]`);

    // ---- The enquirer reads it by their link and adds to it. ----
    r = await jo.goto(link, { waitUntil: 'load' });
    text = await main(jo);
    check(r?.status() === 200 && text.includes('Which trust email did you use?'), 'the enquirer reads the reply by their link', [text.slice(0, 300)]);
    await checkPage(jo, 'the enquirer\'s thread', link, 'enquiry-thread');
    await jo.fill('#message', email);
    r = await submit(jo, `form[action^="/contact/"] button[type=submit]`);
    text = await main(jo);
    check(text.includes('Your reply has been sent'), 'the enquirer adds to it: said so', [text.slice(0, 300)]);
    await checkPage(jo, 'the enquirer\'s thread after replying', null, 'enquiry-thread-replied');

    // ---- The platform's own desk: its form, sent empty, then sent. ----
    const platform = srv.origin(srv.base);
    await jo.goto(`${platform}/`, { waitUntil: 'load' });
    await submit(jo, 'footer a[href="/contact"]');
    text = await main(jo);
    check(new URL(jo.url()).pathname === '/contact' && text.includes('the team that runs'),
      'the platform\'s footer leads to its own Contact us', [text.slice(0, 300)]);
    await checkPage(jo, 'the platform\'s /contact', null, 'platform-contact');
    await jo.fill('#name', 'Jo Enquirer');
    await jo.fill('#email', email);
    await jo.click('label[for="topic-general"]');
    await jo.fill('#message', 'Does my trust use this service?');
    r = await submit(jo, 'form[action="/contact"] button[type=submit]');
    text = await main(jo);
    const platformRef = (text.match(/ENQ-[A-Z0-9]{8}/) || [])[0];
    check(r?.status() === 200 && Boolean(platformRef), `the platform's desk takes it: ${platformRef}`, [text.slice(0, 300)]);
    await waitForMail(mailDir, email, `[${platformRef}] We have your enquiry`);
  } finally {
    await browser.close();
  }
});

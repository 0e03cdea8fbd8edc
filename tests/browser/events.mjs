#!/usr/bin/env node
// Face-to-face training in Debian's headless Chromium, end to end on the running demo. The
// training manager finds the events from the Admin page, sends the new-event form empty (refused,
// each field named), adds a date with one place (its trainer themself) and makes the practical
// course mandatory for the learner. The learner opens the course, reads its first session and
// books the date from the face-to-face session's page (a confirmation with a calendar entry).
// The manager moves the event to earlier today (the learner is told, with the updated entry),
// takes the register (attended), and the course shows completed on the learner's My learning and
// in date on the compliance matrix. axe and the 320 px reflow check run on each page.
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
  check, checkPage, env, errorsDescribed, fillDate, launch, main, run, server, signIn, submit, waitForMail,
} from './lib.mjs';

const COURSE = 'Basic life support (adults), practical';

await run(async () => {
  const srv = server();
  const origin = srv.site(env('TRELLIS_SITE'));
  const mailDir = env('TRELLIS_MAIL_DIR');
  const managerEmail = env('TRELLIS_MANAGER_EMAIL');
  const learnerEmail = env('TRELLIS_LEARNER_EMAIL');
  const password = env('TRELLIS_PASSWORD');
  const venue = `Clinical skills room ${Date.now().toString(36)}`;
  const browser = await launch(srv);
  if (!browser) return;
  try {
    // ---- The manager: every event, then the course's, then a new date. ----
    const managerCtx = await browser.newContext({ bypassCSP: true });
    const boss = await signIn(managerCtx, origin, managerEmail, password);
    await boss.goto(`${origin}/admin`, { waitUntil: 'load' });
    await submit(boss, 'main a[href="/admin/events"]');
    let text = await main(boss);
    check(text.includes('Face-to-face events') && text.includes(COURSE) && text.includes('0 of 8 (0%)'),
      'Admin leads to every face-to-face event, with how full each is', [text.slice(0, 400)]);
    await checkPage(boss, '/admin/events', `${origin}/admin/events`, 'events-all');
    await boss.goto(`${origin}/admin/courses`, { waitUntil: 'load' });
    const courseHref = await boss.getAttribute(`main a:has-text("${COURSE}")`, 'href');
    const course = courseHref.split('/').pop();
    await boss.goto(`${origin}${courseHref}`, { waitUntil: 'load' });
    await submit(boss, `a[href="/admin/courses/${course}/events"]`);
    await checkPage(boss, 'a course\'s events', null, 'events-course');
    let r = await submit(boss, `form[action="/admin/courses/${course}/events"] button[type=submit]`);
    text = await main(boss);
    check(r?.status() === 400 && text.includes('There is a problem') && text.includes('Enter the date of the event')
      && text.includes('Enter where it is held') && text.includes('Enter the number of places'),
    `sent empty, the event is refused naming each field (${r?.status()})`, [text.slice(0, 400)]);
    await errorsDescribed(boss, 'the event form with errors');
    await checkPage(boss, 'the event form with errors', null, 'events-errors');
    await fillDate(boss, 'date', 3);
    await boss.fill('#start', '10:00');
    await boss.fill('#end', '13:00');
    await boss.fill('#venue', venue);
    await boss.fill('#capacity', '1');
    await boss.fill('#trainers', managerEmail);
    await boss.fill('#joining', 'Wear comfortable clothes.');
    await submit(boss, `form[action="/admin/courses/${course}/events"] button[type=submit]`);
    text = await main(boss);
    check(text.includes('Event added') && text.includes(venue), 'the date is added, and said so', [text.slice(0, 300)]);
    const eventHref = await boss.getAttribute(`tr:has-text("${venue}") a[href^="/admin/events/"]`, 'href');
    const event = eventHref.split('/').pop();

    // The course becomes the learner's mandatory training.
    await boss.goto(`${origin}/admin/training`, { waitUntil: 'load' });
    await boss.selectOption('#course', { label: COURSE }).catch(async () => {
      const value = await boss.$eval('#course', (s, t) => [...s.options].find((o) => o.textContent.includes(t))?.value, COURSE);
      await boss.selectOption('#course', value);
    });
    await boss.click('label[for="ak-person"]');
    await boss.fill('#email', learnerEmail);
    await boss.check('#mandatory');
    r = await submit(boss, 'form[action="/admin/training"] button[type=submit]');
    check(r?.status() === 200, `the course is assigned to the learner (${r?.status()})`, [(await main(boss)).slice(0, 300)]);

    // ---- The learner books the date. ----
    const learnerCtx = await browser.newContext({ bypassCSP: true });
    const learner = await signIn(learnerCtx, origin, learnerEmail, password);
    await learner.goto(`${origin}/learn/${course}`, { waitUntil: 'load' });
    text = await main(learner);
    check(text.includes('Wear comfortable clothes and bring your badge'), 'the course opens at its first session', [text.slice(0, 300)]);
    await submit(learner, 'main a:has-text("Next session")');
    text = await main(learner);
    check(text.includes('This is face-to-face training') && text.includes(venue) && text.includes('1 place left'),
      'the face-to-face session lists the dates to book', [text.slice(0, 500)]);
    await checkPage(learner, 'the face-to-face session', null, 'events-session');
    await submit(learner, `form[action="/events/${event}/book"] button`);
    text = await main(learner);
    check(text.includes('Booked: you have a place') && text.includes('You have a place') && text.includes('Add it to your calendar'),
      'booked: said so, with the joining instructions and a calendar link', [text.slice(0, 500)]);
    await checkPage(learner, 'the session after booking', null, 'events-booked');
    let mail = await waitForMail(mailDir, learnerEmail, `Booked: ${COURSE}`);
    const uid = /UID:(\S+)/.exec(mail.calendar.replace(/\r?\n /g, ''))?.[1];
    check(mail.calendar.includes('METHOD:REQUEST') && uid, 'the confirmation carries the calendar entry', [mail.calendar.slice(0, 300)]);

    // ---- The manager moves the event to earlier today and takes the register. ----
    await boss.goto(`${origin}${eventHref}`, { waitUntil: 'load' });
    text = await main(boss);
    check(text.includes('1 of 1 (100%)'), 'the event\'s page shows the place taken', [text.slice(0, 400)]);
    await checkPage(boss, 'an event', null, 'events-event');
    await fillDate(boss, 'date', 0);
    await boss.fill('#start', '00:01');
    await boss.fill('#end', '00:30');
    await submit(boss, `form[action="/admin/events/${event}"] button[type=submit]`);
    text = await main(boss);
    check(text.includes('Event saved, and 1 people with places told'), 'the change is saved and those booked told', [text.slice(0, 300)]);
    mail = await waitForMail(mailDir, learnerEmail, `Changed: ${COURSE}`);
    check(mail.calendar.includes('SEQUENCE:1') && mail.calendar.replace(/\r?\n /g, '').includes(`UID:${uid}`),
      'the learner gets the updated calendar entry (same UID, next SEQUENCE)', [mail.calendar.slice(0, 300)]);
    await boss.goto(`${origin}/events/${event}/register`, { waitUntil: 'load' });
    await checkPage(boss, 'the register', null, 'events-register');
    await boss.click('label[for$="-attended"]');
    await submit(boss, `form[action="/events/${event}/register"] button[type=submit]`);
    text = await main(boss);
    check(text.includes('Register saved: 1 marked, 1 completed the session'), 'the register is saved and completes the session',
      [text.slice(0, 300)]);
    await checkPage(boss, 'the register saved', null, null);

    // ---- The completion, on the learner's record and the compliance matrix. ----
    await learner.goto(`${origin}/learning`, { waitUntil: 'load' });
    text = await main(learner);
    check(text.includes(COURSE) && /completed/i.test(text), 'My learning shows the course completed', [text.slice(0, 600)]);
    // The trust's totals are recounted in the background after a completion: the page shows the
    // last count (with its time) until the new one is ready.
    let row = '';
    for (let i = 0; i < 20 && !/In date\s*1(?!\d)/.test(row); i += 1) {
      if (i) await new Promise((res) => { setTimeout(res, 500); });
      await boss.goto(`${origin}/admin/compliance`, { waitUntil: 'load' });
      row = (await boss.textContent(`tr:has-text("${COURSE}")`).catch(() => '')).replace(/\s+/g, ' ');
    }
    check(/In date\s*1(?!\d)/.test(row), 'the compliance matrix counts it in date', [row]);
  } finally {
    await browser.close();
  }
});

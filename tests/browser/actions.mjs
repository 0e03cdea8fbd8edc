#!/usr/bin/env node
// A training manager's everyday actions in Debian's headless Chromium, on the running demo, each
// answered by a page that says what happened (the success banner), or by the form again with its
// error summary focused and each message tied to its field. Every answered page passes axe,
// reflows at 320 px and does not scroll sideways (lib.mjs's `said` and `refusedWith`).
//
// The actions: the site's colours (a wrong one refused, then saved as they were); a logo uploaded
// and removed; a key message added and deleted; someone from outside the trust's email domain
// registers and the manager approves them; reminders emailed to everyone overdue; a staff file
// checked and applied (the import page then shows it in its history); the leavers' grace period
// (a wrong number refused, then saved). Then the learner enrols on a course and leaves it. Last
// the manager is made the learner's line manager (themselves refused first), sees their team
// from their home, and sends the learner a reminder (a second the same day is refused). Then the
// manager is appointed a coach (an empty form refused first), given the learner, opens their
// caseload and the learner's page, logs a contact (refused empty, then with the next follow-up)
// and emails the learner from a template; the learner's home names their coach. Last the learner
// asks for protected learning time (refused wrongly first), the manager agrees it on their team
// page, My learning shows it, and the learner's calendar link serves the feed until turned off.
// Then the manager adds a learning lab (refused empty first), and the learner books a PC there
// (emailed) and cancels it. Last the manager adds a badge (refused empty first), and the learner's
// profile lists their badges; and the marketing pack page passes axe and its downloads work.
// Last a campaign: the manager creates one (refused empty first), launches it and sends its email
// (which reaches the learner with a one-click unsubscribe header); its banner shows on a plain
// page of another origin, as an intranet would place it, and clicking it opens the landing page,
// where the learner enrols.
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
  TIMEOUT, check, checkPage, env, fillDate, launch, main, refusedWith, run, said, server, signIn, submit, waitForMail,
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
  const stamp = Date.now().toString(36);
  const browser = await launch(srv);
  if (!browser) return;
  try {
    const ctx = await browser.newContext({ bypassCSP: true });
    const boss = await signIn(ctx, origin, managerEmail, password);

    // ---- The site's look. ----
    await boss.goto(`${origin}/admin/site`, { waitUntil: 'load' });
    const primary = await boss.inputValue('#primary');
    await boss.fill('#primary', 'sea green');
    await submit(boss, 'form[action="/admin/site/colours"] button[type=submit]');
    await refusedWith(boss, 'a colour that is not one', 'Enter the colour as 6 hexadecimal digits');
    await boss.fill('#primary', primary);
    await submit(boss, 'form[action="/admin/site/colours"] button[type=submit]');
    await said(boss, 'the colours saved', 'Colours updated');

    await boss.setInputFiles('#logo', { name: 'logo.png', mimeType: 'image/png', buffer: PNG });
    await submit(boss, 'form[action="/admin/site/logo"] button[value=upload]');
    await said(boss, 'a logo uploaded', 'Logo updated');
    await submit(boss, 'form[action="/admin/site/logo"] button[value=remove]');
    await said(boss, 'the logo removed', 'Logo removed');

    const title = `Flu clinics ${stamp}`;
    await boss.fill('#title', title);
    await boss.fill('#body', 'Walk-in flu jabs in the staff room all week.');
    await fillDate(boss, 'starts_on', 0);
    await submit(boss, 'form[action="/admin/site/messages"] button[type=submit]');
    await said(boss, 'a key message added', 'Key message added');
    const message = boss.locator('form[action^="/admin/site/messages/"]', { hasText: title });
    await Promise.all([boss.waitForNavigation({ waitUntil: 'load' }), message.locator('button[value=delete]').click()]);
    await said(boss, 'the key message deleted', 'Key message deleted');

    // ---- Someone from outside the trust's email domain registers; the manager approves them. ----
    const outsider = `bank.nurse.${stamp}@agency.example`;
    const reg = await browser.newContext({ bypassCSP: true });
    const newcomer = await reg.newPage();
    newcomer.setDefaultTimeout(TIMEOUT);
    await newcomer.goto(`${origin}/register`);
    await newcomer.fill('#given_name', 'Bola');
    await newcomer.fill('#family_name', `Adeyemi ${stamp}`);
    await newcomer.fill('#email', outsider);
    await newcomer.fill('#password', password);
    await newcomer.fill('#job_role', 'Bank nurse');
    await newcomer.fill('#place_of_work', 'Agency');
    await submit(newcomer, 'form[action="/register"] button[type=submit]');
    check((await main(newcomer)).includes('Check your email'), 'an outsider registers');
    const mail = await waitForMail(mailDir, outsider, 'Confirm your email address');
    await newcomer.goto(mail.links.find((l) => l.includes('/verify-email?token=')));
    await submit(newcomer, 'form[action="/verify-email"] button[type=submit]');
    await reg.close();
    await boss.goto(`${origin}/admin/approvals`, { waitUntil: 'load' });
    const approve = boss.locator('button', { hasText: `Approve Bola Adeyemi ${stamp}` });
    check(await approve.count() === 1, 'their registration waits for approval');
    if (await approve.count() === 1) {
      await Promise.all([boss.waitForNavigation({ waitUntil: 'load' }), approve.click()]);
      await said(boss, 'a registration approved', `Bola Adeyemi ${stamp} approved`);
    }

    // ---- Reminders to everyone overdue. ----
    await boss.goto(`${origin}/admin/compliance`, { waitUntil: 'load' });
    await submit(boss, 'form[action="/admin/compliance/remind"] button[type=submit]');
    await said(boss, 'reminders sent', 'Reminders are being sent');

    // ---- A staff file checked and applied; the leavers' grace period. ----
    await boss.goto(`${origin}/admin/staff/import`, { waitUntil: 'load' });
    const number = String(10_000_000 + (Date.now() % 89_999_999)).slice(0, 8);
    const csv = 'Assignment Number,First Name,Last Name,Email,Position,Department,Staff Group,Place of Work\n'
      + `${number},Kofi,Mensah,kofi.${stamp}@northmoor.example,Healthcare Assistant,Ward 3,Additional Clinical Services,RXX\n`;
    await boss.setInputFiles('#file', { name: 'staff.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    // Sent with a progress bar (progress.js): the page the server answers with replaces this one.
    await boss.click('form[action="/admin/staff/import"] button[type=submit]');
    await boss.waitForSelector('form[action="/admin/staff/import/apply"]', { timeout: 60_000 }).catch(() => {});
    const plan = await main(boss);
    check(plan.includes('What the import will do') && plan.includes('1 person added'), 'the file is checked: one person to add',
      [plan.slice(0, 300)]);
    await submit(boss, 'form[action="/admin/staff/import/apply"] button[type=submit]');
    await said(boss, 'an import applied', 'Import started');
    await boss.waitForFunction(() => /imported — 1 added/.test(document.querySelector('#import-history')?.textContent ?? ''),
      null, { timeout: 60_000 }).catch(() => {});
    check((await boss.textContent('#import-history')).includes('imported — 1 added'),
      'the import page shows the import done without a reload', [await boss.textContent('#import-history')]);
    await boss.fill('#grace_days', 'soon');
    await submit(boss, 'form[action="/admin/staff/import/leavers"] button[type=submit]');
    await refusedWith(boss, 'a grace period that is not a number', 'Enter a number of days from 0 to 365');
    await boss.fill('#grace_days', '28');
    await submit(boss, 'form[action="/admin/staff/import/leavers"] button[type=submit]');
    await said(boss, 'the grace period saved', 'Leavers are now suspended 28 days');

    // ---- The learner enrols on a course and leaves it. ----
    const lctx = await browser.newContext({ bypassCSP: true });
    const learner = await signIn(lctx, origin, learnerEmail, password);
    await learner.goto(`${origin}/courses`, { waitUntil: 'load' });
    const courses = await learner.$$eval('.nhsuk-card__heading a', (as) => as.map((a) => a.getAttribute('href')));
    let enrolled = false;
    for (const course of courses) {
      await learner.goto(`${origin}${course}`, { waitUntil: 'load' });
      const enrol = learner.locator(`form[action="${course}/enrol"] button`);
      const leave = `form[action="${course}/leave"] button`;
      if (!(await enrol.count())) continue;
      await Promise.all([learner.waitForNavigation({ waitUntil: 'load' }), enrol.click()]);
      const words = await said(learner, 'a learner enrols', 'You are enrolled on');
      if (!words.includes('You are enrolled on')) break;
      enrolled = true;
      if (await learner.locator(leave).count()) {
        await submit(learner, leave);
        await said(learner, 'a learner leaves a course', 'You have left');
      }
      break;
    }
    check(enrolled, 'the learner finds an open course to enrol on', [courses.join(' ')]);

    // ---- Line managers: the manager becomes the learner's, sees the team and reminds them. ----
    await boss.goto(`${origin}/admin/line-managers`, { waitUntil: 'load' });
    await boss.fill('#person', learnerEmail);
    await boss.fill('#manager', learnerEmail);
    await submit(boss, 'form[action="/admin/line-managers"] button[type=submit]');
    await refusedWith(boss, 'a line manager of themselves', 'cannot be their own line manager');
    await boss.fill('#person', learnerEmail);
    await boss.fill('#manager', managerEmail);
    await submit(boss, 'form[action="/admin/line-managers"] button[type=submit]');
    await said(boss, 'a line manager set', 'as their line manager');
    await boss.goto(`${origin}/`, { waitUntil: 'load' });
    check((await main(boss)).includes('You line manage 1 person'), "the line manager's home mentions their team");
    await submit(boss, 'a[href="/team"]');
    const team = await main(boss);
    check(team.includes(learnerEmail) && team.includes('Send a reminder'), 'the team page lists the learner', [team.slice(0, 300)]);
    await checkPage(boss, 'the team page', null, 'team');
    await submit(boss, 'form[action$="/remind"] button[type=submit]');
    await said(boss, 'a reminder sent', 'has been emailed a reminder of their training');
    const reminder = await waitForMail(mailDir, learnerEmail, 'about your training');
    check(reminder.text.includes('your line manager'), 'the learner gets the reminder in their line manager\'s name');
    await submit(boss, 'form[action$="/remind"] button[type=submit]');
    await said(boss, 'a second reminder the same day', 'already reminded today');
    // The learner is nobody's line manager: the team page says what it is for.
    const refusedTeam = await learner.goto(`${origin}/team`, { waitUntil: 'load' });
    check(refusedTeam?.status() === 403 && (await main(learner)).includes('This page is for line managers'),
      'someone who manages nobody is told what the team page is for');
    await checkPage(learner, 'the team page refused', null);

    // ---- Coaching: the manager is appointed a coach, given the learner, logs a contact with the
    // next follow-up and emails them from a template; the learner sees who their coach is. ----
    await boss.goto(`${origin}/admin/coaches`, { waitUntil: 'load' });
    await checkPage(boss, 'the coaches page', null);
    await submit(boss, 'form[action="/admin/coaches"] button[type=submit]');
    await refusedWith(boss, 'a coach with no email address', 'Enter the email address of the person to appoint');
    await boss.fill('#email', managerEmail);
    await submit(boss, 'form[action="/admin/coaches"] button[type=submit]');
    await said(boss, 'a coach appointed', 'is now a coach');
    await submit(boss, 'form[action$="/rules"] button[type=submit]');
    await refusedWith(boss, 'a caseload rule with nothing chosen', 'by department or by staff group');
    await boss.fill('#email', learnerEmail);
    await submit(boss, 'form[action$="/learners"] button[type=submit]');
    await said(boss, 'a learner given to the coach', "added to this coach's caseload");
    await boss.goto(`${origin}/`, { waitUntil: 'load' });
    check((await main(boss)).includes('You coach 1 learner'), "the coach's home mentions their caseload");
    await submit(boss, 'a[href="/coaching"]');
    const caseload = await main(boss);
    check(caseload.includes(learnerEmail) && caseload.includes('None logged'), 'the caseload lists the learner', [caseload.slice(0, 300)]);
    await checkPage(boss, 'the coaching caseload', null, 'coaching');
    await submit(boss, 'main a[href^="/coaching/"]');
    await checkPage(boss, "a learner's coaching page", null, 'coaching-learner');
    await submit(boss, 'form[action$="/contacts"] button[type=submit]');
    await refusedWith(boss, 'a contact with nothing entered', 'Choose how you were in touch');
    await boss.check('#method-phone');
    await fillDate(boss, 'contacted_on', 0);
    await boss.fill('#note', 'Talked about the overdue courses; they will book time this week.');
    await fillDate(boss, 'next_on', 7);
    await submit(boss, 'form[action$="/contacts"] button[type=submit]');
    await said(boss, 'a contact logged', 'Contact logged. Next follow-up');
    check((await main(boss)).includes('they will book time this week'), 'the contact log shows the note');
    await boss.check('#message-check_in');
    await submit(boss, 'form[action$="/message"] button[type=submit]');
    await said(boss, 'a coaching email sent', 'has been emailed');
    const coachMail = await waitForMail(mailDir, learnerEmail, 'How is your training going?');
    check(coachMail.text.includes('your learning coach'), 'the learner gets the email in their coach\'s name');
    await learner.goto(`${origin}/`, { waitUntil: 'load' });
    check((await main(learner)).includes('Your coach') && (await main(learner)).includes(managerEmail), 'the learner sees who their coach is');

    // ---- Protected learning time: the learner asks their line manager (the manager, from above),
    // who agrees it; My learning plans it, and the learner's calendar link serves the feed. ----
    await learner.goto(`${origin}/learning/time`, { waitUntil: 'load' });
    await checkPage(learner, 'the learning time page', null, 'learning-time');
    await learner.fill('#start', '2pm');
    await submit(learner, 'form[action="/learning/time"] button[type=submit]');
    await refusedWith(learner, 'learning time asked for wrongly', 'Choose how much time a week');
    await learner.selectOption('#minutes', '60');
    await learner.selectOption('#weekday', '3');
    await learner.fill('#start', '14:00');
    await submit(learner, 'form[action="/learning/time"] button[type=submit]');
    await said(learner, 'learning time asked for', 'Sent to your line manager to agree');
    await waitForMail(mailDir, managerEmail, 'asks you to agree protected learning time');
    await boss.goto(`${origin}/team`, { waitUntil: 'load' });
    await submit(boss, 'form[action$="/learning-time"] button[value=approve]');
    await said(boss, 'learning time agreed', 'learning time agreed: 1 hour a week, on Wednesdays from 14:00');
    await learner.goto(`${origin}/learning`, { waitUntil: 'load' });
    check((await main(learner)).includes('Agreed with your line manager: 1 hour a week'), 'My learning shows the agreed learning time');
    await learner.goto(`${origin}/learning/time`, { waitUntil: 'load' });
    await submit(learner, 'form[action="/learning/calendar"] button[type=submit]');
    await checkPage(learner, 'the calendar link made', null);
    const link = await learner.getAttribute('main a[href*="/calendar/"]', 'href');
    // Fetched as a calendar would: no cookies (from the page, which resolves the trust's host).
    const fetchFeed = (url) => learner.evaluate(async (u) => {
      const r = await fetch(u, { credentials: 'omit' });
      return { status: r.status, type: r.headers.get('content-type') || '', body: await r.text() };
    }, url);
    const feed = await fetchFeed(link);
    check(feed.status === 200 && feed.type.startsWith('text/calendar') && feed.body.startsWith('BEGIN:VCALENDAR')
      && feed.body.includes('SUMMARY:Protected learning time'),
    'the calendar link serves the learning time as iCalendar', [feed.body.slice(0, 200)]);
    await submit(learner, 'form[action="/learning/calendar/off"] button[type=submit]');
    await said(learner, 'the calendar link turned off', 'Calendar link turned off');
    check((await fetchFeed(link)).status === 404, 'a turned-off calendar link is not found');

    // ---- Learning labs: the manager adds a room (refused empty first); the learner books a PC,
    // gets the calendar entry by email, and cancels. ----
    await boss.goto(`${origin}/admin/labs`, { waitUntil: 'load' });
    await checkPage(boss, 'the learning labs admin page', null, 'admin-labs');
    await boss.fill('#name', '');
    await submit(boss, 'form[action="/admin/labs"] button[type=submit]');
    await refusedWith(boss, 'a room with no name', "Enter the room");
    await boss.fill('#name', 'Library PCs');
    await boss.fill('#location', 'Education Centre, level 2');
    await boss.fill('#pcs', '4');
    for (const d of ['1', '2', '3', '4', '5', '6', '7']) await boss.check(`#days-${d}`);
    await submit(boss, 'form[action="/admin/labs"] button[type=submit]');
    await said(boss, 'a room added', 'Library PCs added');
    await learner.goto(`${origin}/labs`, { waitUntil: 'load' });
    await checkPage(learner, 'the learning labs page', null, 'labs');
    await submit(learner, 'form[action$="/book"] button[type=submit]');
    await said(learner, 'a PC booked', 'PC booked at Library PCs');
    const labMail = await waitForMail(mailDir, learnerEmail, 'PC booked: Library PCs');
    check(labMail.calendar.includes('METHOD:REQUEST') && labMail.calendar.includes('Library PCs'),
      'the booking email carries a calendar entry', [labMail.calendar.slice(0, 200)]);
    await submit(learner, 'form[action^="/labs/bookings/"] button[type=submit]');
    await said(learner, 'a lab booking cancelled', 'Booking cancelled');

    // ---- Badges: the manager adds one (refused empty first); the learner's profile lists theirs. ----
    await boss.goto(`${origin}/admin/badges`, { waitUntil: 'load' });
    await checkPage(boss, 'the badges admin page', null, 'admin-badges');
    await submit(boss, 'form[action="/admin/badges"] button[type=submit]');
    await refusedWith(boss, 'a badge with nothing entered', 'Enter the badge');
    await boss.fill('#name', 'Mandatory training champion');
    await boss.check('#criterion-mandatory');
    await submit(boss, 'form[action="/admin/badges"] button[type=submit]');
    await said(boss, 'a badge added', 'Mandatory training champion added');
    await learner.goto(`${origin}/profile`, { waitUntil: 'load' });
    check((await main(learner)).includes('Your badges'), "the learner's profile has their badges");
    await checkPage(learner, 'the profile with badges', null);

    // ---- The marketing pack: the page passes axe; the pack and a poster download. ----
    await boss.goto(`${origin}/admin/marketing`, { waitUntil: 'load' });
    await checkPage(boss, 'the marketing pack page', null, 'marketing');
    const got = await boss.evaluate(async () => Promise.all(['/admin/marketing/pack.zip', '/admin/marketing/posters/1.pdf']
      .map(async (u) => { const r = await fetch(u); const b = await r.arrayBuffer(); return [r.status, r.headers.get('content-type'), b.byteLength]; })));
    check(got[0][0] === 200 && got[0][1] === 'application/zip' && got[0][2] > 10000, 'the marketing pack downloads', [JSON.stringify(got[0])]);
    check(got[1][0] === 200 && got[1][1] === 'application/pdf', 'a poster downloads', [JSON.stringify(got[1])]);

    // ---- A campaign: created (refused empty first), launched, emailed; its banner on another
    // origin's page; the learner enrols from its landing page. ----
    await boss.goto(`${origin}/admin/campaigns`, { waitUntil: 'load' });
    await checkPage(boss, 'the campaigns page', null, 'admin-campaigns');
    await Promise.all([boss.waitForNavigation({ waitUntil: 'load' }), boss.click('a[href="/admin/campaigns/new"]')]);
    await checkPage(boss, 'the new campaign form', null, 'admin-campaign-new');
    await submit(boss, 'form[action="/admin/campaigns/new"] button[type=submit]');
    await refusedWith(boss, 'a campaign with nothing entered', 'Enter the campaign');
    const campaign = `Flu season ${stamp}`;
    await boss.fill('#name', campaign);
    const course = await boss.$eval('#course option:nth-child(2)', (o) => [o.value, o.textContent]);
    await boss.selectOption('#course', course[0]);
    await boss.fill('#subject', `Beat flu this winter ${stamp}`);
    await boss.fill('#message', 'Infection prevention keeps patients safe.\n\nIt takes twenty minutes.');
    await boss.fill('#banner_text', 'Beat flu this winter');
    await boss.fill('#landing_text', 'Why it matters, and what to do.');
    await submit(boss, 'form[action="/admin/campaigns/new"] button[type=submit]');
    await said(boss, 'a campaign created', 'created as a draft');
    await submit(boss, 'form[action$="/launch"] button[type=submit]');
    await said(boss, 'the campaign launched', 'is live');
    await submit(boss, 'form[action$="/send"] button[type=submit]');
    await said(boss, 'the campaign email sent', 'The email is being sent');
    const shot = await waitForMail(mailDir, learnerEmail, `Beat flu this winter ${stamp}`);
    check(/^<https?:\/\/[^>]+\/unsubscribe\/[\w-]+>$/.test(shot.unsubscribe), 'the campaign email has a one-click unsubscribe header',
      [shot.unsubscribe]);
    const slug = (await boss.$eval('a[href^="/campaigns/"]', (a) => a.getAttribute('href'))).split('/')[2];
    // The intranet: a plain HTML page served from another origin (a loopback server of this
    // script's own), holding the embed code exactly as the campaign's page gives it.
    const embed = await boss.$eval('#embed-728', (t) => t.value);
    const { createServer } = await import('node:http');
    const intranetServer = createServer((_, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><html lang="en"><head><title>Staff intranet</title></head><body><main><h1>News</h1>${embed}</main></body></html>`);
    });
    await new Promise((r) => { intranetServer.listen(0, '127.0.0.1', r); });
    const intranet = await (await browser.newContext()).newPage();
    intranet.setDefaultTimeout(TIMEOUT);
    await intranet.goto(`http://127.0.0.1:${intranetServer.address().port}/`, { waitUntil: 'load' });
    intranetServer.close();
    const shown = await intranet.$eval('main img', (i) => i.complete && i.naturalWidth);
    check(shown === 728, 'the banner shows on another origin\'s page', [String(shown)]);
    await Promise.all([intranet.waitForNavigation({ waitUntil: 'load' }), intranet.click('main img')]);
    check(intranet.url().endsWith(`/campaigns/${slug}`) && (await main(intranet)).includes('Why it matters'),
      'clicking the banner opens the landing page', [intranet.url()]);
    await learner.goto(`${origin}/campaigns/${slug}`, { waitUntil: 'load' });
    await checkPage(learner, 'the campaign landing page', null, 'campaign');
    const enrol = learner.locator(`form[action="/campaigns/${slug}/enrol"] button`);
    if (await enrol.count()) {
      await submit(learner, `form[action="/campaigns/${slug}/enrol"] button[type=submit]`);
      await said(learner, 'enrolled from the landing page', course[1].trim());
    } else {
      check((await main(learner)).includes('You are on this course'), 'the landing page says the learner is on the course');
    }
    await boss.goto(`${origin}/admin/campaigns`, { waitUntil: 'load' });
    await Promise.all([boss.waitForNavigation({ waitUntil: 'load' }), boss.click(`a:has-text("${campaign}")`)]);
    await checkPage(boss, 'the campaign with its results', null, 'admin-campaign');
    check((await main(boss)).includes('Sent to'), 'the campaign page says how many it emailed');
  } finally {
    await browser.close();
  }
});

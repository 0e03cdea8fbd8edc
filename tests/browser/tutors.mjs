#!/usr/bin/env node
// Tutor access in Debian's headless Chromium, end to end on the running demo: the demo learner
// has learning on record (they join the trust's induction course and open it); at "Who can see
// my record" (/account/tutors) they share chosen courses with a tutor until a day they type into
// the date input (first sending the form empty: refused, with its error summary); the email
// reaches the tutor with the link; the tutor, in a browser that is not signed in, reads the
// shared record (only what was shared) and downloads a course summary PDF; the learner sees how
// often it was opened and stops sharing; the tutor's link then answers 410 with a page that says
// so. axe and the 320 px reflow check run on each page of it.
//
//   TRELLIS_URL, TRELLIS_BASE_DOMAIN
//   TRELLIS_MAIL_DIR       the demo's mail directory (each email an .eml file)
//   TRELLIS_SITE           the trust, e.g. northmoor
//   TRELLIS_LEARNER_EMAIL  its demo learner
//   TRELLIS_PASSWORD       the demo password
//   TRELLIS_COURSE         optional: the title of an open course of the trust with a page to
//                          open (default: Welcome to Northmoor, from tenants/northmoor)
//   TRELLIS_SCREENSHOTS    optional directory: a full-page PNG of each page of the journey
//
// Prints `ok - …` / `not ok - …`, then `N passed, M failed`; exits 1 on any failure.

import { readFile } from 'node:fs/promises';

import {
  TIMEOUT, axe, check, checkPage, dayParts, env, errorsDescribed, launch, main, notOk, one, run, server, signIn, submit,
  waitForMail,
} from './lib.mjs';





await run(async () => {
  const srv = server();
  const origin = srv.site(env('TRELLIS_SITE'));
  const mailDir = env('TRELLIS_MAIL_DIR');
  const learnerEmail = env('TRELLIS_LEARNER_EMAIL');
  const password = env('TRELLIS_PASSWORD');
  const courseTitle = process.env.TRELLIS_COURSE || 'Welcome to Northmoor';
  const tutorEmail = `tess.tutor.${Date.now().toString(36)}@university.example`;
  const browser = await launch(srv);
  if (!browser) return;
  let last = null;
  try {
    // ---- The learner has learning on record. ----
    const learnerCtx = await browser.newContext({ bypassCSP: true });
    const learner = await signIn(learnerCtx, origin, learnerEmail, password);
    last = learner;
    await learner.goto(`${origin}/courses?q=${encodeURIComponent(courseTitle)}`);
    await Promise.all([learner.waitForNavigation(), learner.click(`.nhsuk-card__heading a:has-text("${courseTitle}")`)]);
    const coursePath = new URL(learner.url()).pathname;
    const course = coursePath.split('/')[2];
    const enrol = learner.locator(`form[action="${coursePath}/enrol"] button`);
    if (await enrol.count()) await submit(learner, `form[action="${coursePath}/enrol"] button`);
    const session = await learner.getAttribute(`a[href^="/learn/${course}/"]`, 'href');
    check(Boolean(session), `the learner is on ${courseTitle} and can open its first session`, [learner.url()]);
    let r = await learner.goto(`${origin}${session}`);
    check(r?.status() === 200, `the learner opens a session of ${courseTitle} (${r?.status()})`);

    // ---- Who can see my record: the page, then the form sent empty. ----
    const tutorsUrl = `${origin}/account/tutors`;
    r = await learner.goto(tutorsUrl);
    const listed = await learner.$$eval('input[name="courses"]', (inputs) => inputs.map((i) => ({
      id: i.value, title: document.querySelector(`label[for="${i.id}"]`)?.firstChild?.textContent?.trim() ?? '',
    })));
    const chosen = listed.find((c) => c.id === course);
    const others = listed.filter((c) => c.id !== course).map((c) => c.title);
    check(r?.status() === 200 && Boolean(chosen), `/account/tutors offers the courses on the learner's record (${listed.length}: ${listed.map((c) => c.title).join(', ')})`);
    await checkPage(learner, '/account/tutors', tutorsUrl, 'tutors');
    await learner.goto(tutorsUrl);
    r = await submit(learner, 'form[action="/account/tutors"] button[type=submit]');
    const summary = one(await learner.textContent('.nhsuk-error-summary').catch(() => ''));
    const named = await learner.$$eval('.nhsuk-error-summary a', (as) => as.map((a) => a.getAttribute('href')));
    check(r?.status() === 422 && summary.includes('There is a problem') && ['#name', '#email', '#until'].every((h) => named.includes(h)),
      `the share form sent empty is refused (${r?.status()}), the error summary naming name, email and last day`, [summary, named.join(' ')]);
    check(await learner.evaluate(() => document.activeElement?.classList.contains('nhsuk-error-summary')), 'the error summary has the focus');
    await errorsDescribed(learner, '/account/tutors with errors');
    await checkPage(learner, '/account/tutors with errors', null, 'tutors-errors');
    // Only the courses ticked, but none ticked: the courses are named.
    await learner.fill('#name', 'Tess Tutor');
    await learner.fill('#email', tutorEmail);
    await learner.check('#scope-chosen');
    r = await submit(learner, 'form[action="/account/tutors"] button[type=submit]');
    const coursesNamed = await learner.$$eval('.nhsuk-error-summary a', (as) => as.map((a) => a.getAttribute('href')));
    check(r?.status() === 422 && coursesNamed.includes('#courses') && !coursesNamed.includes('#name'),
      `sharing chosen courses with none ticked is refused (${r?.status()}), naming the courses`, [coursesNamed.join(' ')]);
    await errorsDescribed(learner, '/account/tutors with no course ticked');
    await axe(learner, '/account/tutors with no course ticked');

    // ---- The learner shares the chosen course until a day 30 days ahead. ----
    await learner.goto(tutorsUrl);
    await learner.fill('#name', 'Tess Tutor');
    await learner.fill('#email', tutorEmail);
    await learner.check('#scope-chosen');
    await learner.check(`input[name="courses"][value="${course}"]`);
    const until = dayParts(30);
    await learner.fill('#until-day', until.day);
    await learner.fill('#until-month', until.month);
    await learner.fill('#until-year', until.year);
    await submit(learner, 'form[action="/account/tutors"] button[type=submit]');
    let text = await main(learner);
    check(text.includes('Tess Tutor can see your record until') && text.includes(`Tess Tutor (${tutorEmail})`) && text.includes('0 times'),
      `the learner shares ${courseTitle} with Tess Tutor, opened 0 times`, [text.slice(0, 400)]);
    await checkPage(learner, '/account/tutors sharing', tutorsUrl, 'tutors-shared');

    // ---- The tutor's email, and the record opened without signing in. ----
    const mail = await waitForMail(mailDir, tutorEmail, 'has shared their learning record with you');
    const link = mail.links.find((l) => l.includes('/tutor/'));
    check(link?.startsWith(`${origin}/tutor/`), 'the email reaches the tutor with the /tutor/ link', [link]);
    const tutorCtx = await browser.newContext({ bypassCSP: true });
    const tutor = await tutorCtx.newPage();
    tutor.setDefaultTimeout(TIMEOUT);
    last = tutor;
    let opened = 0;
    r = await tutor.goto(link);
    opened += 1;
    text = await main(tutor);
    check(r?.status() === 200 && text.includes('The learning record of Demo Learner') && text.includes(courseTitle),
      `the tutor, not signed in, reads the shared record (${r?.status()})`, [text.slice(0, 300)]);
    // The table's Course column: the shared course, and nothing else of the record.
    const shown = await tutor.$$eval('main table', ([table]) => {
      if (!table) return [];
      const at = [...table.querySelectorAll('thead th')].findIndex((th) => th.textContent.trim() === 'Course');
      return [...table.querySelectorAll('tbody tr')].map((tr) => tr.querySelectorAll('td')[at]?.lastChild?.textContent?.trim() ?? '');
    });
    check(shown.length > 0 && shown.every((t) => t === courseTitle) && others.every((t) => !shown.includes(t)),
      `only what was shared: ${courseTitle}, none of ${others.join(', ') || '(no other course on record)'}`, [`shown: ${shown.join(', ')}`]);
    check(!(await tutor.textContent('header')).includes('Sign out'), 'the tutor is not signed in');
    await checkPage(tutor, 'the tutor view', link, 'tutor-view');
    opened += 1;
    await tutor.goto(link);
    opened += 1;
    const pdfLink = tutor.locator(`main a[href="/tutor/${new URL(link).pathname.split('/')[2]}/courses/${course}.pdf"]`);
    const [download] = await Promise.all([tutor.waitForEvent('download'), pdfLink.click()]);
    opened += 1;
    const pdf = await readFile(await download.path());
    check(download.suggestedFilename().endsWith('.pdf') && pdf.subarray(0, 5).toString() === '%PDF-',
      `the course summary PDF downloads (${download.suggestedFilename()}, ${pdf.length} bytes)`);
    // Fetched by the page itself (the browser's own network and host rules): its content type.
    const [pdfStatus, pdfType] = await tutor.evaluate(async (u) => {
      const res = await fetch(u);
      return [res.status, res.headers.get('content-type')];
    }, await pdfLink.getAttribute('href'));
    opened += 1;
    check(pdfStatus === 200 && pdfType === 'application/pdf', `the course summary is sent as application/pdf (${pdfStatus}, ${pdfType})`);

    // ---- The learner sees who has looked, and stops sharing. ----
    last = learner;
    await learner.goto(tutorsUrl);
    const row = one(await learner.textContent(`main tbody tr:has-text("${tutorEmail}")`));
    check(row.includes(`Opened ${opened} times, last on`), `who has looked: the learner sees the link opened ${opened} times`, [row]);
    await submit(learner, `form[action^="/account/tutors/"] button:has-text("Stop sharing")`);
    text = await main(learner);
    check(text.includes('Access revoked: the link no longer works') && one(await learner.textContent(`main tbody tr:has-text("${tutorEmail}")`)).includes('Revoked'),
      'the learner stops sharing', [text.slice(0, 300)]);

    // ---- The tutor's link is gone. ----
    last = tutor;
    r = await tutor.goto(link);
    text = await main(tutor);
    check(r?.status() === 410 && one(await tutor.textContent('h1')) === 'This link no longer works' && text.includes('stopped sharing it'),
      `the tutor's link now answers 410 with a page that says why (${r?.status()})`, [text.slice(0, 300)]);
    await checkPage(tutor, 'the 410 page', link, 'tutor-gone');
  } catch (e) {
    const where = last ? `at ${last.url()}: ${one(await last.textContent('main').catch(() => '')).slice(0, 300)}` : '';
    notOk(`unexpected error: ${e.message.split('\n')[0]}`, [where]);
  } finally {
    await browser.close().catch(() => {});
  }
});

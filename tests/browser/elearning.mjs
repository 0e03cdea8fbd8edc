#!/usr/bin/env node
// E-learning in Debian's headless Chromium, end to end on the running demo: the demo training
// manager (a content editor too) creates a course in the browser and uploads the repository's
// test packages (SCORM 1.2, SCORM 2004 with two SCOs, cmi5 with two AUs) and a hostile package;
// the demo learner enrols and takes each: launch, answer, suspend, resume, complete; the session
// pages and My learning show status, score and time. The hostile package's script, run as the
// learner, can reach nothing of theirs beyond its own attempt. axe checks the pages around it.
// Last, a certificate end to end: offered on a course, downloaded, checked by an employer through
// a verification link without signing in, revoked (410).
//
//   TRELLIS_URL            the server, e.g. http://127.0.0.1:41234
//   TRELLIS_BASE_DOMAIN    e.g. localhost
//   TRELLIS_MANAGER_SITE, TRELLIS_MANAGER_EMAIL, TRELLIS_MANAGER_PASSWORD
//   TRELLIS_LEARNER_EMAIL  a learner of the same trust (same password)
//   TRELLIS_PACKAGES       a folder holding <name>.zip for each package in tests/packages
//
// Prints `ok - …` / `not ok - …`, then `N passed, M failed`; exits 1 on any failure.

import path from 'node:path';

import {
  TIMEOUT, axe, check, env, launch, one, reflow, run, server, signIn,
} from './lib.mjs';

// Read from the environment when the run starts (a missing one is a failed `configuration` check).
let origin;
let contentOrigin;
let password;
let packages;

// axe on a page of ours opened at pathname. The content's own frames are the package's (another
// origin), so axe leaves frames out; the page around them is ours.
async function axeAt(context, pathname, label) {
  const page = await context.newPage();
  try {
    await page.goto(`${origin}${pathname}`);
    await axe(page, label, { iframes: false });
  } finally { await page.close(); }
}

// Reflow (WCAG 2.2 1.4.10) of the page at pathname, in a page of its own.
async function reflowAt(context, pathname, label) {
  const page = await context.newPage();
  try {
    await reflow(page, `${origin}${pathname}`, label);
  } finally { await page.close(); }
}

async function newCourse(page, code, title) {
  await page.goto(`${origin}/admin/courses/new`);
  await page.fill('#title', title);
  await page.fill('#code', code);
  await page.check('input[name="enrolment"][value="open"]').catch(() => {});
  await Promise.all([page.waitForNavigation(), page.click('main form button[type=submit]')]);
  const id = page.url().split('/admin/courses/')[1];
  check(/^[0-9a-f-]{36}$/.test(id), `${title}: course created in the editor`, [page.url()]);
  return id;
}

async function uploadPackage(page, course, name) {
  await page.goto(`${origin}/admin/courses/${course}/package`);
  await page.setInputFiles('#file', path.join(packages, `${name}.zip`));
  // The form is sent with a progress bar (progress.js), and the page the server answers with
  // replaces this one. A small file can be sent before a poll would see the bar, so an observer
  // in the page reports it through the console the moment it is added.
  let bar = false;
  const seen = (m) => { if (m.text() === 'trellis-test: progress bar shown') bar = true; };
  page.on('console', seen);
  await page.evaluate(() => {
    const observer = new MutationObserver(() => {
      if (document.querySelector('.trellis-progress progress')) {
        console.log('trellis-test: progress bar shown');
        observer.disconnect();
      }
    });
    observer.observe(document.documentElement, { childList: true, subtree: true });
  });
  await page.click('main form button[type=submit]');
  await page.waitForFunction((c) => window.location.pathname === `/admin/courses/${c}` || document.querySelector('.nhsuk-error-summary'), course, { timeout: 60_000 }).catch(() => {});
  await page.waitForLoadState('load');
  page.off('console', seen);
  check(bar, `${name}: the upload showed a progress bar`);
  return page.url().endsWith(`/admin/courses/${course}`);
}

async function publish(page, course) {
  await page.goto(`${origin}/admin/courses/${course}`);
  await Promise.all([page.waitForNavigation(), page.click('#publish button[type=submit]')]);
}

async function enrol(page, course) {
  await page.goto(`${origin}/courses/${course}`);
  const enrol = page.locator(`form[action="/courses/${course}/enrol"] button`);
  if (await enrol.count()) await Promise.all([page.waitForNavigation(), enrol.click()]);
}

async function sessionLinks(page, course) {
  await page.goto(`${origin}/courses/${course}`);
  return page.$$eval(`a[href^="/learn/${course}/"]`, (as) => as.map((a) => a.getAttribute('href')));
}

/// Starts (or continues) a session; returns the frame of the content (the SCO for SCORM, the AU
/// for cmi5).
let lastPage = null;
async function start(page, session, scorm) {
  lastPage = page;
  await page.goto(`${origin}${session}`);
  await Promise.all([page.waitForURL(/\/play\//), page.click('#launch')]);
  const player = page.frameLocator('iframe.trellis-player');
  return scorm ? player.frameLocator('#trellis-sco') : player;
}

async function backOnSession(page, session) {
  await page.waitForURL((u) => u.pathname === session, { timeout: TIMEOUT });
  return page.textContent('main');
}

async function main() {
  const srv = server();
  origin = srv.site(env('TRELLIS_MANAGER_SITE'));
  contentOrigin = `${srv.url.protocol}//127.0.0.1:${srv.url.port}`;
  password = env('TRELLIS_MANAGER_PASSWORD');
  packages = env('TRELLIS_PACKAGES');
  const managerEmail = env('TRELLIS_MANAGER_EMAIL');
  const learnerEmail = env('TRELLIS_LEARNER_EMAIL');
  const browser = await launch(srv);
  if (!browser) return;
  try {
    // The editor (the demo training manager) uploads the packages.
    const edCtx = await browser.newContext();
    const ed = await signIn(edCtx, origin, managerEmail, password);
    const refused = await (async () => {
      const c = await newCourse(ed, 'BR-BAD', 'Broken package');
      await ed.goto(`${origin}/admin/courses/${c}/package`);
      await ed.setInputFiles('#file', { name: 'bad.zip', mimeType: 'application/zip', buffer: Buffer.from('PK\x03\x04 not a zip') });
      // Sent with a progress bar; the form comes back with its error summary in place of the page.
      await ed.click('main form button[type=submit]');
      await ed.waitForSelector('.nhsuk-error-summary', { timeout: 60_000 }).catch(() => {});
      return ed.textContent('.nhsuk-error-summary');
    })();
    check(/not a readable zip/.test(refused ?? ''), 'a broken package is refused with the reason', [refused]);
    const courses = {};
    for (const [code, title, pkgs] of [
      ['BR-HH', 'Hand hygiene (SCORM 1.2)', ['scorm12-hand-hygiene']],
      ['BR-IG', 'Information governance (SCORM 2004)', ['scorm2004-information-governance']],
      ['BR-CR', 'Conflict resolution (cmi5)', ['cmi5-conflict-resolution']],
      ['BR-HOSTILE', 'Isolation check', ['scorm12-hostile']],
      ['BR-C12', 'Moving and handling (SCORM 1.2, asks on exit)', ['scorm12-confirm-exit']],
      ['BR-C04', 'Safeguarding adults (SCORM 2004, asks on exit)', ['scorm2004-confirm-exit']],
      ['BR-MIN', 'Fire safety (minimum calls and an asset)', ['scorm12-minimum-and-asset']],
      ['BR-LIB', 'Information security (cmi5.js)', ['cmi5-standard-library']],
    ]) {
      const id = await newCourse(ed, code, title);
      for (const p of pkgs) check(await uploadPackage(ed, id, p), `${title}: ${p} uploaded and checked`, [ed.url()]);
      await publish(ed, id);
      courses[code] = id;
    }
    const edAxe = await browser.newContext({ bypassCSP: true });
    await signIn(edAxe, origin, managerEmail, password).then((p) => p.close());
    await axeAt(edAxe, `/admin/courses/${courses['BR-HH']}/package`, 'the package upload page');
    await axeAt(edAxe, `/admin/courses/${courses['BR-HH']}`, 'the course editor with a package');
    await axeAt(edAxe, '/admin/lrs', 'the LRS page');
    await axeAt(edAxe, '/admin/api-tokens', 'the API tokens page');

    // The learner.
    const ctx = await browser.newContext();
    const page = await signIn(ctx, origin, learnerEmail, password);

    // SCORM 1.2: two pages, suspend; resume where left; the quiz; passed.
    await enrol(page, courses['BR-HH']);
    const [hh] = await sessionLinks(page, courses['BR-HH']);
    let sco = await start(page, hh, true);
    await sco.locator('#status').filter({ hasText: 'Page 1 of 4' }).waitFor();
    await sco.locator('#next').click();
    await sco.locator('#status').filter({ hasText: 'Page 2 of 4' }).waitFor();
    await sco.locator('#exit').click();
    let text = await backOnSession(page, hh);
    check(/incomplete/.test(text), 'SCORM 1.2: suspended, the session shows incomplete', [one(text).slice(0, 300)]);
    sco = await start(page, hh, true);
    await sco.locator('#status').filter({ hasText: 'Page 2 of 4' }).waitFor();
    check(true, 'SCORM 1.2: resumed on the page left (lesson_location)');
    const entry = await sco.locator('body').getAttribute('data-entry');
    check(entry === 'resume', `SCORM 1.2: entry is resume (${entry})`);
    await sco.locator('#next').click();
    await sco.locator('input[name="q1"][value="five"]').check();
    await sco.locator('input[name="q2"][value="false"]').check();
    await sco.locator('#submit').click();
    await sco.locator('#status').filter({ hasText: 'Result: 100%' }).waitFor();
    await sco.locator('#exit').click();
    text = await backOnSession(page, hh);
    check(/passed/.test(text) && /100%/.test(text), 'SCORM 1.2: passed with 100% on the session page', [one(text).slice(0, 400)]);
    check(/Session completed/.test(text), 'SCORM 1.2: the session is completed in the learning record');

    // SCORM 2004: two SCOs; the quiz suspended with an answer, resumed with it, then passed.
    await enrol(page, courses['BR-IG']);
    const [basics, quiz] = await sessionLinks(page, courses['BR-IG']);
    sco = await start(page, basics, true);
    await sco.locator('#status').filter({ hasText: 'Ready' }).waitFor();
    await sco.locator('#done').click();
    await sco.locator('#status').filter({ hasText: 'Completed' }).waitFor();
    await sco.locator('#exit').click();
    text = await backOnSession(page, basics);
    check(/Session completed/.test(text), 'SCORM 2004: the first SCO completed', [one(text).slice(0, 300)]);
    sco = await start(page, quiz, true);
    await sco.locator('#status').filter({ hasText: 'Ready' }).waitFor();
    check((await sco.locator('body').getAttribute('data-passing')) === '0.75', 'SCORM 2004: the mastery score reaches the SCO (scaled_passing_score 0.75)');
    await sco.locator('input[name="q1"][value="false"]').check();
    await sco.locator('#exit').click();
    await backOnSession(page, quiz);
    sco = await start(page, quiz, true);
    await sco.locator('#status').filter({ hasText: 'Ready' }).waitFor();
    check(await sco.locator('input[name="q1"][value="false"]').isChecked(), 'SCORM 2004: resumed with the answer given (suspend data)');
    await sco.locator('input[name="q2"][value="nhs_number"]').check();
    await sco.locator('#submit').click();
    await sco.locator('#status').filter({ hasText: 'Passed' }).waitFor();
    await sco.locator('#exit').click();
    text = await backOnSession(page, quiz);
    check(/passed/.test(text) && /100%/.test(text), 'SCORM 2004: the quiz passed with 100%', [one(text).slice(0, 400)]);

    // cmi5: the reading AU completed; the quiz AU passed; terminated each time, back to the course.
    await enrol(page, courses['BR-CR']);
    const [reading, cquiz] = await sessionLinks(page, courses['BR-CR']);
    let au = await start(page, reading, false);
    await au.locator('#status').filter({ hasText: 'Ready (Normal)' }).waitFor();
    await au.locator('#read').click();
    await au.locator('body[data-state="Completed"]').waitFor();
    await au.locator('#exit').click();
    text = await backOnSession(page, reading);
    check(/Session completed/.test(text), 'cmi5: the reading AU completed (moveOn Completed)', [one(text).slice(0, 300)]);
    au = await start(page, cquiz, false);
    await au.locator('#status').filter({ hasText: 'Ready (Normal)' }).waitFor();
    check((await au.locator('body').getAttribute('data-launch-parameters')) === 'difficulty=easy', 'cmi5: the launch parameters reach the AU');
    await au.locator('input[name="q1"][value="listen"]').check();
    await au.locator('input[name="q2"][value="true"]').check();
    await au.locator('#submit').click();
    await au.locator('body[data-state="Passed"]').waitFor();
    await au.locator('#exit').click();
    text = await backOnSession(page, cquiz);
    check(/completed, passed/.test(text) && /100%/.test(text), 'cmi5: the quiz AU passed and completed', [one(text).slice(0, 400)]);

    await page.goto(`${origin}/learning`);
    const learning = await page.textContent('main');
    for (const t of ['Hand hygiene (SCORM 1.2)', 'Information governance (SCORM 2004)', 'Conflict resolution (cmi5)']) {
      check(learning.includes(t), `My learning lists ${t}`);
    }
    const completed = (await page.$$eval('main li', (lis) => lis.map((l) => l.textContent))).filter((t) => / completed /.test(t)).join(' | ');
    check(['Hand hygiene', 'Information governance', 'Conflict resolution'].every((t) => completed.includes(t)), 'My learning shows all three courses completed', [completed]);

    // Content that asks "save your progress?" with confirm(): the prompt reaches the learner (the
    // player allows modals), OK keeps the place, and the next launch resumes there.
    const dialogs = [];
    page.on('dialog', (d) => { dialogs.push(d.message()); d.accept().catch(() => {}); });
    for (const [code, label] of [['BR-C12', 'SCORM 1.2'], ['BR-C04', 'SCORM 2004']]) {
      await enrol(page, courses[code]);
      const [s] = await sessionLinks(page, courses[code]);
      let unit = await start(page, s, true);
      await unit.locator('#status').filter({ hasText: 'Page 1 of 4' }).waitFor();
      await unit.locator('#next').click();
      await unit.locator('#status').filter({ hasText: 'Page 2 of 4' }).waitFor();
      await unit.locator('#next').click();
      await unit.locator('#status').filter({ hasText: 'Page 3 of 4' }).waitFor();
      const before = dialogs.length;
      await unit.locator('#exit').click();
      await backOnSession(page, s);
      check(dialogs.length === before + 1 && /Save your progress/.test(dialogs[dialogs.length - 1] ?? ''), `${label}: the content's confirm() reached the learner`, [JSON.stringify(dialogs)]);
      unit = await start(page, s, true);
      await unit.locator('#status').filter({ hasText: /Page \d of 4/ }).waitFor();
      const where = await unit.locator('#status').textContent();
      check(where === 'Page 3 of 4', `${label}: resumed at the page the learner left (${where})`);
      check((await unit.locator('body').getAttribute('data-entry')) === 'resume', `${label}: entry is resume`);
      if (code === 'BR-C12') {
        const timespan = await unit.locator('body').getAttribute('data-timespan-check');
        check(timespan === 'false:405', `SCORM 1.2: a session time of 12345 hours is refused with error 405 (${timespan})`);
      }
      await unit.locator('#next').click();
      await unit.locator('#status').filter({ hasText: 'Page 4 of 4' }).waitFor();
      await unit.locator('#exit').click();
      text = await backOnSession(page, s);
      check(/Session completed/.test(text), `${label}: completed on the last page`, [one(text).slice(0, 300)]);
    }

    // A SCORM 1.2 SCO that calls only LMSInitialize and LMSFinish completes; the asset beside it
    // never holds the course up; the hidden item is not a session.
    await enrol(page, courses['BR-MIN']);
    const minSessions = await sessionLinks(page, courses['BR-MIN']);
    check(minSessions.length === 2, `minimum calls: two sessions, the hidden item is not one (${minSessions.length})`);
    const [lesson, sheet] = minSessions;
    const minimal = await start(page, lesson, true);
    await minimal.locator('#done').click();
    text = await backOnSession(page, lesson);
    check(/Session completed/.test(text) && /completed/.test(text), 'minimum calls: a SCO that never sets a status is completed at LMSFinish', [one(text).slice(0, 300)]);
    await page.goto(`${origin}/learning`);
    const fire = (await page.$$eval('main li', (lis) => lis.map((l) => l.textContent))).find((t) => t.includes('Fire safety (minimum calls')) ?? '';
    check(/completed/.test(fire), 'minimum calls: the course is completed though the asset was never opened', [one(fire)]);
    await page.goto(`${origin}${sheet}`);
    await Promise.all([page.waitForURL(/\/play\//), page.click('#launch')]);
    await page.frameLocator('iframe.trellis-player').frameLocator('#trellis-sco').locator('#sheet').waitFor();
    await page.goto(`${origin}${sheet}`);
    check(/Session completed/.test(await page.textContent('main')), 'an asset counts as completed once opened');

    // A cmi5 unit built on the standard cmi5 library: starts (no blank frame), keeps a bookmark
    // with plain PUTs, resumes from it, completes; then reopens in Review.
    await enrol(page, courses['BR-LIB']);
    const [libReading, libOwn] = await sessionLinks(page, courses['BR-LIB']);
    au = await start(page, libReading, false);
    await au.locator('body[data-state="ready"]').waitFor();
    check((await au.locator('#status').textContent()) === 'Page 1 of 3 (Normal)', 'cmi5.js: the unit starts (launch data, learner preferences, initialized)');
    await au.locator('#next').click();
    await au.locator('#status').filter({ hasText: 'Page 2 of 3' }).waitFor();
    await au.locator('#exit').click();
    await backOnSession(page, libReading);
    au = await start(page, libReading, false);
    await au.locator('body[data-state="ready"]').waitFor();
    check((await au.locator('body').getAttribute('data-start-page')) === '2', 'cmi5.js: resumed from the bookmark it saved with a plain PUT');
    await au.locator('#next').click();
    await au.locator('body[data-state="Completed"]').waitFor();
    check(true, 'cmi5.js: a second plain PUT replaced the bookmark (xAPI 1.0.3) and the unit completed');
    await au.locator('#exit').click();
    text = await backOnSession(page, libReading);
    check(/Session completed/.test(text), 'cmi5.js: the session is completed', [one(text).slice(0, 300)]);
    check(/Review/.test(text), 'cmi5.js: a satisfied unit offers Review');
    au = await start(page, libReading, false);
    await au.locator('body[data-state="ready"]').waitFor();
    check((await au.locator('body').getAttribute('data-mode')) === 'Review', 'cmi5.js: reopened in Review mode');
    await au.locator('#exit').click();
    await backOnSession(page, libReading);

    // An OwnWindow unit: Start takes the whole window to the unit, which returns to the session.
    await page.goto(`${origin}${libOwn}`);
    await Promise.all([page.waitForURL((u) => u.origin === contentOrigin), page.click('#launch')]);
    await page.locator('body[data-state="ready"]').waitFor();
    check(page.url().startsWith(contentOrigin), `OwnWindow: the unit has the window (${new URL(page.url()).origin})`);
    await page.locator('#next').click();
    await page.locator('body[data-state="Completed"]').waitFor();
    await Promise.all([page.waitForURL((u) => u.pathname === libOwn), page.locator('#exit').click()]);
    text = await page.textContent('main');
    check(/Session completed/.test(text), 'OwnWindow: back on the session, completed', [one(text).slice(0, 300)]);

    // A launch that cannot start says so in words.
    await page.goto(`${origin}${hh}`);
    const t = await page.getAttribute('form[action$="/launch"] input[name="csrf_token"]', 'value');
    const [failedStatus, failedBody] = await page.evaluate(async ([url, token]) => {
      const r = await fetch(url, { method: 'POST', body: new URLSearchParams({ csrf_token: token }) });
      return [r.status, await r.text()];
    }, [`/learn/${courses['BR-HH']}/00000000-0000-0000-0000-000000000000/launch`, t]);
    check(failedStatus === 404 && /could not be started/.test(failedBody), `a failed launch shows a message (${failedStatus})`);

    // The hostile package, run as the learner.
    await enrol(page, courses['BR-HOSTILE']);
    const [hostile] = await sessionLinks(page, courses['BR-HOSTILE']);
    const probe = await start(page, hostile, true);
    await probe.locator('body[data-done="yes"]').waitFor();
    const report = JSON.parse(await probe.locator('#report').textContent());
    check(String(report.read_portal_dom).startsWith('blocked'), `hostile: cannot read the portal's page (${report.read_portal_dom})`);
    check(!String(report.cookies).includes('trellis_session') && !String(report.cookies).includes('trellis_csrf'), `hostile: sees no portal cookie (${JSON.stringify(report.cookies)})`);
    check(String(report.navigate_top).startsWith('blocked'), `hostile: cannot navigate the learner away (${report.navigate_top})`);
    check(String(report.read_profile).startsWith('blocked'), `hostile: cannot read the learner's profile (${report.read_profile})`);
    check(page.url().startsWith(origin), `the learner is still on the trust's site (${page.url()})`);
    const playPath = new URL(page.url()).pathname;
    await page.goto(`${origin}/profile`);
    check(page.url().endsWith('/profile') && (await page.textContent('h1')).includes('profile'), 'hostile: the forged sign-out-everywhere did nothing: still signed in');

    // Accessibility of the learner's pages around the content.
    const axeCtx = await browser.newContext({ bypassCSP: true });
    await signIn(axeCtx, origin, learnerEmail, password).then((p) => p.close());
    await axeAt(axeCtx, hh, 'a SCORM session page');
    await axeAt(axeCtx, playPath, 'the page a package plays in');
    await axeAt(axeCtx, cquiz, 'a cmi5 session page');
    await axeAt(axeCtx, '/learning', 'My learning with e-learning');
    await reflowAt(axeCtx, '/learning', 'My learning with e-learning');
    // The attempts of a course, after the learners' runs, at phone width.
    await reflowAt(edAxe, `/admin/courses/${courses['BR-HH']}/attempts`, "a course's attempts");

    // A certificate, end to end: the editor offers one on a one-page course; the learner completes
    // it, downloads the PDF and makes a verification link; an employer opens it without signing
    // in; the learner revokes it and the link is gone (410).
    await ed.goto(`${origin}/admin/courses/new`);
    await ed.fill('#title', 'Certificate walk-through');
    await ed.fill('#code', 'BR-CERT');
    await ed.check('#enrolment-open');
    await ed.check('#certificate-yes');
    await Promise.all([ed.waitForNavigation(), ed.click('main form button[type=submit]')]);
    const cert = ed.url().split('/admin/courses/')[1];
    await ed.goto(`${origin}/admin/courses/${cert}/sessions`);
    await ed.fill('#title', 'Read me');
    await ed.check('#kind-page');
    await ed.fill('#body', 'Done by reading.');
    await ed.check('#completion-view');
    await Promise.all([ed.waitForNavigation(), ed.click('main form button[type=submit]')]);
    await publish(ed, cert);
    const certCtx = await browser.newContext({ bypassCSP: true });
    const lp = await signIn(certCtx, origin, learnerEmail, password);
    await enrol(lp, cert);
    const [readMe] = await sessionLinks(lp, cert);
    await lp.goto(`${origin}${readMe}`);
    await lp.goto(`${origin}/courses/${cert}`);
    check((await lp.textContent('main')).includes('Download your certificate'), 'certificate: offered once the course is done');
    await axe(lp, 'a course page with its certificate');
    // Fetched by the page itself (the browser's own network, cookies and host rules).
    const [pdfStatus, pdfType] = await lp.evaluate(async (u) => {
      const r = await fetch(u, { credentials: 'same-origin' });
      return [r.status, r.headers.get('content-type')];
    }, `/courses/${cert}/certificate.pdf`);
    check(pdfStatus === 200 && pdfType === 'application/pdf', `certificate: the PDF downloads (${pdfStatus}, ${pdfType})`);
    await lp.selectOption('#days', '30');
    await Promise.all([lp.waitForNavigation(), lp.click(`form[action="/courses/${cert}/certificate/links"] button[type=submit]`)]);
    const link = (await lp.textContent('main code')).trim();
    check(link.includes('/certificate-check/'), 'certificate: a verification link is shown once', [link]);
    await axe(lp, 'the verification link page');
    const employer = await browser.newContext({ bypassCSP: true });
    const ep = await employer.newPage();
    const seen = await ep.goto(link);
    check(seen?.status() === 200 && (await ep.textContent('main')).includes('Certificate check'),
      `certificate: an employer opens the link without signing in (${seen?.status()})`);
    await axe(ep, 'the certificate check page');
    await reflow(ep, link, 'the certificate check page');
    await lp.goto(`${origin}/courses/${cert}`);
    await Promise.all([lp.waitForNavigation(), lp.click(`form[action^="/courses/${cert}/certificate/links/"] button[type=submit]`)]);
    const gone = await ep.goto(link);
    check(gone?.status() === 410, `certificate: a revoked link answers 410 (${gone?.status()})`);
    await employer.close();
    await certCtx.close();
  } catch (e) {
    const where = lastPage ? `at ${lastPage.url()}: ${one(await lastPage.textContent('main').catch(() => '')).slice(0, 300)}` : '';
    check(false, `unexpected error: ${e.message.split('\n')[0]}`, [where]);
  } finally {
    await browser.close();
  }
}

await run(main);

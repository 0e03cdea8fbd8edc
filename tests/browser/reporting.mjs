#!/usr/bin/env node
// Organisation reporting in Debian's headless Chromium, end to end on the running demo, along its
// chain of authorisation: the platform administrator records the trust's Caldicott Guardian (the
// demo training manager); the confirmation email arrives and they confirm, signed in at the
// trust's site; they authorise a reporting lead (shown the statement, then making it); the lead
// nominates a report user with a purpose; the report user runs staff activity, completions over
// time and course uptake on screen, filters by staff group and downloads the CSV; the authoriser
// sees the statement and the runs in the record; the lead revokes the report user, whose next
// report is refused. The lead and the report user register through the site (their addresses in
// the trust's email domain, so approved at once) and confirm their addresses from the emails.
// axe and the 320 px reflow check run on each page of it, and on the nomination form refused.
//
//   TRELLIS_URL, TRELLIS_BASE_DOMAIN
//   TRELLIS_MAIL_DIR               the demo's mail directory (each email an .eml file)
//   TRELLIS_PLATFORM_ADMIN_EMAIL   a platform administrator yet to set up two-step verification
//   TRELLIS_MANAGER_SITE           the trust, e.g. northmoor (its email domain is the manager's)
//   TRELLIS_MANAGER_EMAIL          its demo training manager: the authoriser here
//   TRELLIS_LEARNER_EMAIL          its demo learner (a staff group on record): found by the filter
//   TRELLIS_PASSWORD               the demo password (all of the above)
//   TRELLIS_SCREENSHOTS            optional directory: a full-page PNG of each page of the journey
//
// Prints `ok - …` / `not ok - …`, then `N passed, M failed`; exits 1 on any failure.

import { readFile } from 'node:fs/promises';

import {
  TIMEOUT, check, checkPage, env, errorsDescribed, fillDate, launch, main, notOk, ok, one, run, screenshot, server, signIn, submit, totp,
  waitForMail,
} from './lib.mjs';

const GROUP = 'Nursing and Midwifery Registered';
const PURPOSE = 'Chasing fire safety training on the wards';






// Registers given family at origin with the address email, confirms it from the email, and signs
// them in (a new page of a new context). Returns the page.
async function newMember(browser, origin, mailDir, given, family, email, password) {
  const context = await browser.newContext({ bypassCSP: true });
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  await page.goto(`${origin}/register`);
  await page.fill('#given_name', given);
  await page.fill('#family_name', family);
  await page.fill('#email', email);
  await page.fill('#password', password);
  await page.fill('#job_role', 'Workforce analyst');
  await page.fill('#place_of_work', 'XN1');
  await submit(page, 'form[action="/register"] button[type=submit]');
  check((await main(page)).includes('Check your email'), `${given} ${family} registers at the trust's site`);
  const mail = await waitForMail(mailDir, email, 'Confirm your email address');
  const link = mail.links.find((l) => l.includes('/verify-email?token='));
  await page.goto(link);
  await submit(page, 'form[action="/verify-email"] button[type=submit]');
  check((await main(page)).includes('You can now sign in'), `${given} ${family} confirms their address from the email (approved at once)`);
  await page.close();
  const signedIn = await signIn(context, origin, email, password);
  check(new URL(signedIn.url()).pathname === '/', `${given} ${family} signs in`, [signedIn.url()]);
  return signedIn;
}

await run(async () => {
  const srv = server();
  const slug = env('TRELLIS_MANAGER_SITE');
  const origin = srv.site(slug);
  const platform = srv.origin(srv.base);
  const mailDir = env('TRELLIS_MAIL_DIR');
  const adminEmail = env('TRELLIS_PLATFORM_ADMIN_EMAIL');
  const managerEmail = env('TRELLIS_MANAGER_EMAIL');
  const learnerEmail = env('TRELLIS_LEARNER_EMAIL');
  const password = env('TRELLIS_PASSWORD');
  const domain = managerEmail.split('@')[1];
  // Addresses of this run's own (so a second run on the same demo registers new people).
  const tag = Date.now().toString(36);
  const leadEmail = `lena.lead.${tag}@${domain}`;
  const userEmail = `rob.report.${tag}@${domain}`;
  const newPassword = 'moorland heather kestrel';
  const browser = await launch(srv);
  if (!browser) return;
  let last = null;
  try {
    // ---- The platform administrator records the trust's Caldicott Guardian. ----
    const adminCtx = await browser.newContext({ bypassCSP: true });
    const admin = await adminCtx.newPage();
    last = admin;
    admin.setDefaultTimeout(TIMEOUT);
    await admin.goto(`${platform}/sign-in`);
    await admin.fill('#email', adminEmail);
    await admin.fill('#password', password);
    await submit(admin, 'form[action="/sign-in"] button[type=submit]');
    if (!check(admin.url().includes('/sign-in/mfa-setup'), 'platform administrator: the first sign-in asks to set up two-step verification',
      [`at ${admin.url()}: TRELLIS_PLATFORM_ADMIN_EMAIL must be an administrator yet to set it up (scripts/test appoints one with \`trellis platform-admin\`)`])) return;
    const secret = (await admin.textContent('strong.trellis-code')).trim();
    await admin.fill('#code', totp(secret));
    await submit(admin, 'form[action="/sign-in/mfa-setup"] button[type=submit]');
    await admin.goto(`${platform}/admin`);
    const authoriserLink = admin.locator(`a[href="/admin/trusts/${slug}/authoriser"]`);
    check(one(await authoriserLink.textContent()).startsWith('reporting authoriser'), `platform administrator: /admin links to ${slug}'s reporting authoriser`);
    await Promise.all([admin.waitForNavigation(), authoriserLink.click()]);
    const authoriserPage = `${platform}/admin/trusts/${slug}/authoriser`;
    check(admin.url() === authoriserPage, 'platform administrator: the link opens the trust\'s authoriser page', [admin.url()]);
    check((await main(admin)).includes('has no authoriser yet'), 'the authoriser page says the trust has none yet');
    await checkPage(admin, `/admin/trusts/${slug}/authoriser`, authoriserPage, 'reporting-authoriser-form');
    // Without a role: refused, and the error summary names the missing answer.
    await admin.goto(authoriserPage);
    await admin.fill('#name', 'Demo Manager');
    await admin.fill('#email', managerEmail);
    await submit(admin, `form[action="/admin/trusts/${slug}/authoriser"] button[type=submit]`);
    check(await admin.locator('.nhsuk-error-summary a[href="#role"]').count() === 1,
      'the authoriser form without a role is refused, its error summary linking to the role');
    await errorsDescribed(admin, `/admin/trusts/${slug}/authoriser with errors`);
    await checkPage(admin, `/admin/trusts/${slug}/authoriser with errors`, null);
    await admin.check('#role-caldicott_guardian');
    await submit(admin, `form[action="/admin/trusts/${slug}/authoriser"] button[type=submit]`);
    let text = await main(admin);
    check(text.includes('is recorded as the Caldicott Guardian') && text.includes('Waiting for them to confirm'),
      'the platform administrator records the Caldicott Guardian, who is waiting to confirm', [text.slice(0, 300)]);
    await screenshot(admin, 'reporting-authoriser-recorded');

    // ---- The authoriser confirms from the email, signed in at the trust's site. ----
    const confirmMail = await waitForMail(mailDir, managerEmail, 'Confirm that you are the Caldicott Guardian');
    const confirmLink = confirmMail.links.find((l) => l.includes('/reporting/authoriser/'));
    check(confirmLink?.startsWith(`${origin}/reporting/authoriser/`), 'the confirmation email arrives with a link to the trust\'s site', [confirmLink]);
    const authCtx = await browser.newContext({ bypassCSP: true });
    const auth = await signIn(authCtx, origin, managerEmail, password);
    last = auth;
    let r = await auth.goto(confirmLink);
    text = await main(auth);
    check(r?.status() === 200 && text.includes('Confirm your role') && text.includes('Caldicott Guardian of'),
      `the authoriser opens the link signed in (${r?.status()})`, [text.slice(0, 300)]);
    await checkPage(auth, 'the authoriser\'s confirmation page', confirmLink, 'reporting-confirm');
    await auth.goto(confirmLink);
    await submit(auth, 'main form button[type=submit]');
    text = await main(auth);
    check(new URL(auth.url()).pathname === '/reporting/leads' && text.includes('You are confirmed as the Caldicott Guardian'),
      'the authoriser confirms and is sent to the reporting leads', [auth.url(), text.slice(0, 300)]);
    r = await auth.goto(confirmLink);
    check(r?.status() === 410, `the confirmation link works once (then ${r?.status()}, want 410)`);
    await admin.goto(authoriserPage);
    check((await main(admin)).includes('Confirmed on'), 'the platform administrator sees the authoriser confirmed');
    await adminCtx.close();
    r = await auth.goto(`${origin}/reporting`);
    text = await main(auth);
    check(r?.status() === 200 && text.includes('Reporting leads') && text.includes('Record of organisation reporting') && !text.includes('Run a report'),
      '/reporting as the authoriser: the leads and the record, no reports');
    await checkPage(auth, '/reporting as the authoriser', `${origin}/reporting`, 'reporting-authoriser');

    // ---- The lead and the report user make their accounts; with no grant, no reports. ----
    const lead = await newMember(browser, origin, mailDir, 'Lena', 'Lead', leadEmail, newPassword);
    const user = await newMember(browser, origin, mailDir, 'Rob', 'Report', userEmail, newPassword);
    r = await user.goto(`${origin}/reporting`);
    check(r?.status() === 200 && (await main(user)).includes('You have no grant for organisation reports'),
      '/reporting with no grant says so and offers no report');
    await checkPage(user, '/reporting with no grant', `${origin}/reporting`, 'reporting-no-grant');
    r = await user.goto(`${origin}/reporting/reports/staff-activity`);
    check(r?.status() === 403, `a report without a grant is refused (${r?.status()}, want 403)`);

    // ---- The authoriser authorises the lead: the statement first, then made. ----
    r = await auth.goto(`${origin}/reporting/leads`);
    check(r?.status() === 200 && (await main(auth)).includes('Authorise a reporting lead'), '/reporting/leads shows the form');
    await checkPage(auth, '/reporting/leads', `${origin}/reporting/leads`, 'reporting-leads-form');
    await auth.goto(`${origin}/reporting/leads`);
    await auth.fill('#email', leadEmail);
    await fillDate(auth, 'until', 200);
    await submit(auth, 'form[action="/reporting/leads"] button[type=submit]');
    const statement = one(await auth.textContent('#statement').catch(() => ''));
    check(statement.startsWith('As the Caldicott Guardian of') && statement.includes('I, Demo Manager, authorise Lena Lead')
      && statement.includes(`(${leadEmail}) as reporting lead`), 'the statement step shows the statement to make, word for word', [statement]);
    await checkPage(auth, '/reporting/leads statement step', null, 'reporting-leads-statement');
    await submit(auth, 'form[action="/reporting/leads"] button[type=submit]');
    text = await main(auth);
    check(text.includes('Lena Lead is a reporting lead until') && text.includes(`Lena Lead (${leadEmail})`),
      'the authoriser makes the statement: Lena Lead is a reporting lead', [text.slice(0, 300)]);
    await waitForMail(mailDir, leadEmail, 'You are a reporting lead');
    ok('the lead is emailed');

    // ---- The lead nominates the report user (first refusing an empty form). ----
    last = lead;
    await lead.goto(`${origin}/reporting`);
    text = await main(lead);
    check(text.includes('You are a reporting lead until') && text.includes('Report users'), '/reporting as the lead: reports and report users');
    await checkPage(lead, '/reporting as the lead', `${origin}/reporting`, 'reporting-lead');
    r = await lead.goto(`${origin}/reporting/users`);
    check(r?.status() === 200, `/reporting/users opens for the lead (${r?.status()})`);
    await checkPage(lead, '/reporting/users', `${origin}/reporting/users`, 'reporting-users');
    await lead.goto(`${origin}/reporting/users`);
    await lead.fill('#until-day', '');
    await lead.fill('#until-month', '');
    await lead.fill('#until-year', '');
    r = await submit(lead, 'form[action="/reporting/users"] button[type=submit]');
    const summary = one(await lead.textContent('.nhsuk-error-summary').catch(() => ''));
    const named = await lead.$$eval('.nhsuk-error-summary a', (as) => as.map((a) => a.getAttribute('href')));
    check(r?.status() === 422 && summary.includes('There is a problem') && ['#email', '#purpose', '#until'].every((h) => named.includes(h)),
      `the users form sent empty is refused (${r?.status()}), the error summary naming email, purpose and end date`, [summary, named.join(' ')]);
    check(await lead.evaluate(() => document.activeElement?.classList.contains('nhsuk-error-summary')), 'the error summary has the focus');
    await errorsDescribed(lead, '/reporting/users with errors');
    await checkPage(lead, '/reporting/users with errors', null, 'reporting-users-errors');
    await lead.goto(`${origin}/reporting/users`);
    await lead.fill('#email', userEmail);
    await lead.fill('#purpose', PURPOSE);
    await fillDate(lead, 'until', 90);
    await submit(lead, 'form[action="/reporting/users"] button[type=submit]');
    text = await main(lead);
    check(text.includes('Rob Report can run reports until') && text.includes(PURPOSE), 'the lead nominates Rob Report with a purpose', [text.slice(0, 300)]);
    await waitForMail(mailDir, userEmail, 'You can run organisation reports');
    ok('the report user is emailed');

    // ---- The report user runs the reports. ----
    last = user;
    await user.goto(`${origin}/reporting`);
    text = await main(user);
    check(text.includes('You are a report user until') && text.includes(PURPOSE) && !text.includes('Report users'),
      '/reporting as the report user: the reports and their purpose, nothing to nominate');
    await checkPage(user, '/reporting as the report user', `${origin}/reporting`, 'reporting-user');
    await user.goto(`${origin}/reporting`);
    await Promise.all([user.waitForNavigation(), user.click('a.trellis-tools__link:has-text("Staff activity")')]);
    const activity = `${origin}/reporting/reports/staff-activity`;
    const rows = () => user.$$eval('main table tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.lastChild?.textContent?.trim() ?? '')));
    let lines = await rows();
    check(user.url() === activity && lines.length > 0 && lines.some((l) => l[2] === learnerEmail) && lines.some((l) => l[2] === managerEmail),
      `Staff activity shows the trust's staff and their learning (${lines.length} lines)`, [user.url()]);
    await checkPage(user, '/reporting/reports/staff-activity with results', activity, 'reporting-staff-activity');
    await user.goto(activity);
    await user.selectOption('#group', GROUP);
    await submit(user, 'form[action="/reporting/reports/staff-activity"] button[type=submit]');
    lines = await rows();
    check(new URL(user.url()).searchParams.get('group') === GROUP && lines.length > 0 && lines.every((l) => l[4] === GROUP)
      && lines.some((l) => l[2] === learnerEmail) && !lines.some((l) => l[2] === managerEmail),
    `the staff group filter keeps only ${GROUP} (${lines.length} lines)`, [user.url(), ...lines.map((l) => l.slice(0, 5).join(' | '))]);
    await screenshot(user, 'reporting-staff-activity-filtered');
    const csvHref = await user.getAttribute('main a:has-text("as CSV")', 'href');
    const [download] = await Promise.all([user.waitForEvent('download'), user.click('main a:has-text("as CSV")')]);
    const csv = await readFile(await download.path(), 'utf8');
    check(download.suggestedFilename().endsWith('.csv') && csv.startsWith('Family name,Given name,Email') && csv.includes(learnerEmail) && !csv.includes(managerEmail),
      `the filtered report downloads as CSV (${download.suggestedFilename()})`, [csv.slice(0, 200)]);
    // Fetched by the page itself (the browser's own network, cookies and host rules).
    const [csvStatus, csvType] = await user.evaluate(async (u) => {
      const res = await fetch(u, { credentials: 'same-origin' });
      return [res.status, res.headers.get('content-type')];
    }, csvHref);
    check(csvStatus === 200 && csvType?.startsWith('text/csv'), `the CSV is sent as text/csv (${csvStatus}, ${csvType})`);
    // Filters that are not in the lists (as an edited address would give): named, and no report.
    const badFilters = `${activity}?course=not-a-course&group=Not+a+group`;
    r = await user.goto(badFilters);
    const badNamed = await user.$$eval('.nhsuk-error-summary a', (as) => as.map((a) => a.getAttribute('href')));
    check(r?.status() === 400 && badNamed.includes('#course') && badNamed.includes('#group') && await user.locator('main table').count() === 0,
      `filters not in the lists are refused (${r?.status()}), the error summary naming the courses and the staff group`, [badNamed.join(' ')]);
    await errorsDescribed(user, '/reporting/reports/staff-activity with refused filters');
    await checkPage(user, '/reporting/reports/staff-activity with refused filters', badFilters, 'reporting-staff-activity-errors');
    for (const [key, title, shot] of [['completions', 'Completions over time', 'reporting-completions'], ['uptake', 'Course uptake', 'reporting-uptake']]) {
      await user.goto(`${origin}/reporting`);
      const [resp] = await Promise.all([user.waitForNavigation(), user.click(`a.trellis-tools__link:has-text("${title}")`)]);
      const h1 = one(await user.textContent('h1'));
      const count = await user.locator('main table tbody tr').count();
      text = await main(user);
      check(resp?.status() === 200 && h1 === title && (count > 0 || text.includes('Nothing matches these filters')),
        `${title} runs on screen (${resp?.status()}, ${count} lines)`);
      if (key === 'uptake') check(count > 0, `Course uptake lists the trust's courses (${count})`);
      await checkPage(user, `/reporting/reports/${key}`, `${origin}/reporting/reports/${key}`, shot);
    }

    // ---- The authoriser sees the statement and the runs. ----
    last = auth;
    r = await auth.goto(`${origin}/reporting/audit`);
    text = await main(auth);
    check(r?.status() === 200 && text.includes(statement), 'the record shows the statement word for word');
    check(text.includes('Report run on screen') && text.includes('Report downloaded (CSV)') && text.includes('Refused: no grant') && text.includes(PURPOSE),
      'the record shows the runs, the download, the refusal and the purpose');
    await checkPage(auth, '/reporting/audit', `${origin}/reporting/audit`, 'reporting-audit');

    // ---- The lead revokes the report user, refused at their next request. ----
    last = lead;
    await lead.goto(`${origin}/reporting/users`);
    await submit(lead, 'form[action^="/reporting/users/"] button:has-text("Revoke")');
    text = await main(lead);
    check(text.includes('Rob Report can no longer run reports') && text.includes('Revoked'), 'the lead revokes the report user');
    last = user;
    r = await user.goto(activity);
    text = await main(user);
    check(r?.status() === 403 && text.includes('You need a grant to run organisation reports'),
      `the revoked report user's next report is refused (${r?.status()}, want 403)`, [text.slice(0, 300)]);
    await checkPage(user, 'the 403 refusal page', activity, 'reporting-refused');
    await browser.close();
  } catch (e) {
    const where = last ? `at ${last.url()}: ${one(await last.textContent('main').catch(() => '')).slice(0, 300)}` : '';
    notOk(`unexpected error: ${e.message.split('\n')[0]}`, [where]);
  } finally {
    await browser.close().catch(() => {});
  }
});

// What the browser tests share: e2e.mjs (the dashboard) and explore.mjs
// (midge explore) start Chromium the same way, fill and submit the same
// kind of forms, publish from the same publish form, and end the same way.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// env returns the environment variable k, which the Go test must set.
export const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};

// must throws what unless ok.
export const must = (ok, what) => { if (!ok) throw new Error(what); };

// named returns the row of the topic tree on screen (rows scrolled or
// filtered away are hidden, for reuse) whose last level is name.
export const named = (page, name) =>
  page.locator('#tree .row:not([hidden])').filter({ has: page.locator('.name', { hasText: new RegExp(`^${name}$`) }) });

// launch starts the browser (CHROMIUM) headless on a new profile in a
// temporary directory named from prefix. It returns the context, its page
// (page errors collect in problems) and close, which closes the browser and
// removes the profile.
export async function launch(prefix) {
  const profile = mkdtempSync(join(tmpdir(), prefix));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: env('CHROMIUM'),
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    viewport: { width: 1440, height: 900 },
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  page.setDefaultTimeout(15000);
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  const close = async () => {
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
  };
  return { ctx, page, problems, close };
}

// run runs body, the test named name in browser b (from launch), and fails
// it if body throws or the page reported problems: then it prints them,
// saves a screenshot of the page to shot and exits with status 1. Either
// way it closes the browser.
export async function run(b, name, shot, body) {
  try {
    await body();
    if (b.problems.length) throw new Error(b.problems.join('\n'));
    await b.close();
    console.log(`${name}: ok`);
  } catch (err) {
    console.error(`${name}: FAILED: ${err.stack || err}`);
    if (b.problems.length) console.error(b.problems.join('\n'));
    try { await b.page.screenshot({ path: shot, fullPage: true }); } catch { /* closed */ }
    await b.close();
    process.exit(1);
  }
}

// submit fills in form (a selector) and submits it. fields maps a selector
// inside the form to its value: a select element's option is chosen, true
// checks a check box or radio button, and anything else is typed in. button
// is the button clicked, the submit button unless given.
export async function submit(page, form, fields, button = 'button[type=submit]') {
  for (const [sel, value] of Object.entries(fields)) {
    const field = `${form} ${sel}`;
    if (value === true) await page.check(field);
    else if (sel.startsWith('select')) await page.selectOption(field, value);
    else await page.fill(field, value);
  }
  await page.click(`${form} ${button}`);
}

// publishFromPage publishes payload to topic at qos with the page's publish
// form, and waits for the page to say it did.
export async function publishFromPage(page, topic, payload, qos) {
  await submit(page, '#publish-form', { 'input[name=topic]': topic, 'textarea[name=payload]': payload, 'select[name=qos]': qos });
  await page.locator('#publish-result', { hasText: `published to ${topic}` }).waitFor();
}

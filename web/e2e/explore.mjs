// The browser test of midge explore, run by internal/cmd/explore's
// e2e_test.go (go test ./internal/cmd/explore -run Browser), which starts
// Debian's mosquitto and `midge explore`, and passes:
//
//   EXPLORE_URL   the URL midge explore printed (with its token)
//   PHASE         "live": see a mosquitto_pub message, publish from the page
//                 "restart": after a restart of midge explore, the history is
//                 there; then save a connection from the page and switch to it
//   MQTT_PORT     mosquitto's port, for mosquitto_pub
//   ARTIFACTS     where to save the screenshots
//   CHROMIUM      the browser, /usr/bin/chromium
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { env, launch, must, named as namedIn, publishFromPage, run } from './lib.mjs';

const artifacts = env('ARTIFACTS');
mkdirSync(artifacts, { recursive: true });
const phase = env('PHASE');
const step = (s) => console.log(`explore e2e (${phase}): ${s}`);
const pub = (topic, message, ...extra) => execFileSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', env('MQTT_PORT'),
  '-t', topic, '-m', message, ...extra], { stdio: 'inherit', timeout: 10000 });

const browser = await launch('midge-explore-e2e-');
const { page, problems } = browser;
let switched = false; // after a switch, the topic in the URL may not be known to the new connection yet (404)
page.on('console', (m) => { if (m.type() === 'error' && !(switched && m.text().includes('status of 404'))) problems.push(`console: ${m.text()}`); });
const named = (name) => namedIn(page, name);

await run(browser, 'explore e2e', join(artifacts, `explore-failure-${phase}.png`), async () => {
  step('open the URL with the token');
  await page.goto(env('EXPLORE_URL'));
  await page.locator('#nav').waitFor();
  await page.locator('#who', { hasText: 'explore: tcp://127.0.0.1' }).waitFor();
  must(await page.locator('#nav a[data-page=clients]').isHidden(), 'the Clients page is shown for a client source');
  await page.locator('#live.on').waitFor();
  if (phase === 'live') {
    step('a message published with mosquitto_pub appears in the tree');
    for (const v of ['20.5', '21.0', '21.8', '22.4']) pub('greenhouse/air/temperature', v);
    pub('greenhouse/air/climate', '{"temperature":22.4,"humidity":61}', '-r', '-q', '1');
    pub('greenhouse/door', 'closed', '-r');
    await named('temperature').locator('.value', { hasText: /^22\.4$/ }).waitFor();
    await named('temperature').click();
    await page.locator('#detail-topic', { hasText: 'greenhouse/air/temperature' }).waitFor();
    await page.locator('#history .item').nth(3).waitFor();
    await page.locator('#history-chart svg path.series').waitFor();
    await page.locator('#export-csv').waitFor();
    await page.screenshot({ path: join(artifacts, 'explore-tree.png') });

    step('publish from the page (the Go test has mosquitto_sub waiting)');
    await publishFromPage(page, 'greenhouse/window/set', 'open', '1');
    await named('set').locator('.value', { hasText: /^open$/ }).waitFor(); // it came back through the subscription
    await named('climate').click();
    await page.locator('#detail-value', { hasText: '"humidity": 61' }).waitFor();
    await page.screenshot({ path: join(artifacts, 'explore-publish.png') });
  } else {
    step('the history survived the restart');
    await named('temperature').click();
    await page.locator('#history .item').nth(3).waitFor();
    const values = await page.locator('#history .item .diff').allTextContents();
    for (const v of ['20.5', '21.0', '21.8', '22.4']) must(values.some((x) => x.includes(v)), `history ${values} lacks ${v}`);
    const csv = await page.evaluate(async () => (await fetch(document.querySelector('#export-csv').href)).text());
    must(csv.split('\n')[0] === 'time,topic,qos,retain,size,truncated,encoding,payload' && csv.includes(',22.4'), `CSV export ${csv}`);
    await page.screenshot({ path: join(artifacts, 'explore-restart.png') });

    step('save a connection from the page and switch to it');
    const answers = ['same broker', `-h 127.0.0.1 -p ${env('MQTT_PORT')} -i "explore e2e"`];
    page.on('dialog', (d) => (d.type() === 'prompt' ? d.accept(answers.shift()) : (problems.push(`dialog: ${d.message()}`), d.dismiss())));
    switched = true;
    await Promise.all([page.waitForEvent('load'), page.click('#add-connection')]);
    await page.locator('#connection option:checked', { hasText: 'same broker' }).waitFor({ state: 'attached' });
    await named('door').locator('.value', { hasText: /^closed$/ }).waitFor(); // the retained message, on the new connection
  }
});

// The browser end-to-end test of midge's dashboard, run by web/e2e_test.go
// (go test ./web -run Browser), which starts midge and passes:
//
//   MIDGE_URL        the http_api listener, http://127.0.0.1:PORT
//   MIDGE_USER, MIDGE_PASSWORD   an administrator of the password file
//   MIDGE_VIEWER, MIDGE_VIEWER_PASSWORD   a user the ACL lets read home/kitchen/#
//   MQTT_PORT, MQTT_USER, MQTT_PASSWORD   for Debian's mosquitto_pub
//   ARTIFACTS        where to save the screenshots
//   CHROMIUM         the browser, /usr/bin/chromium
//
// It logs in, publishes with mosquitto_pub, finds the topic in the tree with
// its value, opens its history and chart, publishes from the page (the Go
// test checks a subscriber got it), and looks at the clients page and the
// statistics; on the Users page it creates a dynamic security client and a
// role, grants the role a topic, gives it to the client, and the ACL tester
// allows that client the topic. On the Bridges page it sees the bridge
// e2e-bridge (to midge's own MQTT listener) connected, and its sent counter
// go up, live, when the administrator publishes on bridge-out/. On the
// Cluster page it sees the broker's one-node cluster: the node alive and
// leading. Then the viewer logs in and must see, and be told of, the
// kitchen's two topics only.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { env, launch, must, named as namedIn, publishFromPage, run, submit } from './lib.mjs';

const url = env('MIDGE_URL');
const artifacts = env('ARTIFACTS');
mkdirSync(artifacts, { recursive: true });

function pub(topic, message, ...extra) {
  execFileSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', env('MQTT_PORT'), '-u', env('MQTT_USER'), '-P', env('MQTT_PASSWORD'),
    '-i', 'livingroom-sensor', '-t', topic, '-m', message, ...extra], { stdio: 'inherit', timeout: 10000 });
}

const step = (s) => console.log(`e2e: ${s}`);
// An ISO 8601 time in the browser's zone: 2026-12-06 09:04:42.313 +01:00.
const isoTime = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} [+-]\d{2}:\d{2}/;

// yLabels returns the y-axis labels of an SVG chart.
const yLabels = (svg) => svg.locator('text.y-label').allTextContents();
const browser = await launch('midge-e2e-chromium-');
const { ctx, page, problems } = browser;
page.on('console', (m) => {
  // The wrong password's 401 is expected; anything else is a bug.
  if (m.type() === 'error' && !m.text().includes('status of 401')) problems.push(`console: ${m.text()}`);
});
page.on('dialog', (d) => d.accept());

await run(browser, 'e2e', join(artifacts, 'failure.png'), async () => {
  step('log in');
  await page.goto(url);
  await page.locator('#login-form').waitFor();
  await submit(page, '#login-form', { 'input[name=username]': env('MIDGE_USER'), 'input[name=password]': 'wrong password' });
  await page.locator('#login-error', { hasText: 'wrong username or password' }).waitFor();
  await submit(page, '#login-form', { 'input[name=password]': env('MIDGE_PASSWORD') });
  await page.locator('#nav').waitFor();
  await page.locator('#live.on').waitFor();

  step('publish with mosquitto_pub');
  for (const v of ['21.5', '21.9', '22.6', '22.1', '22.4']) pub('home/livingroom/temperature', v);
  pub('home/livingroom/climate', '{"temperature":22.4,"humidity":41,"battery":{"level":87}}', '-r');
  pub('home/livingroom/climate', '{"temperature":22.6,"humidity":43,"battery":{"level":87}}', '-r');
  pub('home/kitchen/light', 'on', '-r');
  pub('home/kitchen/power', '1830');
  pub('garden/soil/moisture', '31');
  pub('devices/relay/raw', '00ff7f', '-r'); // text, but shown as sent

  step('find home/livingroom/temperature in the tree');
  const named = (name) => namedIn(page, name);
  // The first two levels open by themselves; $SYS stays closed.
  await named('temperature').locator('.value', { hasText: /^22\.4$/ }).waitFor();
  await named('moisture').waitFor();
  must(await named('uptime').count() === 0, '$SYS was opened');
  await page.screenshot({ path: join(artifacts, 'tree-opened.png') });
  await page.fill('#search', 'livingroom');
  await named('climate').waitFor();
  await named('garden').waitFor({ state: 'detached' });
  await page.fill('#search', '');
  await named('garden').waitFor(); // the whole tree again
  // Closing and opening a branch by hand.
  await named('livingroom').locator('.twisty').click();
  await named('temperature').waitFor({ state: 'detached' });
  await named('livingroom').locator('.twisty').click();
  await named('temperature').click();
  await page.locator('#detail-topic', { hasText: 'home/livingroom/temperature' }).waitFor();
  await page.locator('#detail-value', { hasText: '22.4' }).waitFor();
  await page.locator('#detail .badge', { hasText: '5 messages seen' }).waitFor();
  const received = await page.locator('#detail dl.meta dd').first().textContent();
  must(isoTime.test(received), `received ${JSON.stringify(received)}: not ISO 8601`);
  must(isoTime.test(await page.locator('#history .item .head span').first().textContent()), 'history time not ISO 8601');
  await page.screenshot({ path: join(artifacts, 'tree.png') });

  step('history and chart');
  await page.locator('#history .item').nth(4).waitFor();
  await page.locator('#history-chart svg path.series').waitFor();
  const points = await page.locator('#history-chart svg circle').count();
  if (points !== 5) throw new Error(`chart has ${points} points, want 5`);
  await page.locator('#history .diff .add', { hasText: '22.4' }).first().waitFor();
  await page.locator('#history-chart').screenshot({ path: join(artifacts, 'history-chart.png') });

  step('JSON values: pretty-printed, a chart per numeric field');
  await named('climate').click();
  await page.locator('#detail-value', { hasText: '"humidity": 43' }).waitFor();
  await page.locator('#history-chart .legend label', { hasText: 'battery.level' }).waitFor();
  // Each field on its own axis: humidity's runs over 41..43, not 0..87.
  const fieldCharts = page.locator('#history-chart .field-chart');
  must(await fieldCharts.count() === 3, `${await fieldCharts.count()} field charts, want 3`);
  const hum = (await yLabels(page.locator('#history-chart .field-chart[data-field=humidity] svg'))).map(Number);
  must(hum.length >= 2 && Math.min(...hum) >= 30 && Math.max(...hum) <= 50, `humidity axis ${hum}`);
  await page.locator('#history-chart').screenshot({ path: join(artifacts, 'fields-chart.png') });
  await page.screenshot({ path: join(artifacts, 'history.png'), fullPage: true });

  step('publish from the page');
  await publishFromPage(page, 'home/livingroom/setpoint', '23.5', '1');
  await page.fill('#search', 'setpoint');
  await page.locator('#tree .row', { hasText: 'setpoint' }).locator('.value', { hasText: '23.5' }).waitFor();
  await page.fill('#search', '');

  step('clients');
  await page.click('#nav a[data-page=clients]');
  await page.locator('#clients tbody tr', { hasText: 'e2e-subscriber' }).waitFor();
  await page.locator('#clients tbody tr', { hasText: 'e2e-subscriber' }).filter({ hasText: 'MQTT 5.0' }).waitFor();
  await page.screenshot({ path: join(artifacts, 'clients.png') });

  step('statistics');
  await page.click('#nav a[data-page=stats]');
  await page.locator('#stat-charts svg').first().waitFor();
  await page.locator('#sys td', { hasText: '$SYS/broker/uptime' }).waitFor();
  // Counts get whole-number ticks.
  for (const title of ['Clients connected', 'Subscriptions', 'Retained messages']) {
    const labels = await yLabels(page.locator('#stat-charts .card', { has: page.locator('h3', { hasText: new RegExp(`^${title}$`) }) }).locator('svg'));
    must(labels.length >= 2 && labels.every((l) => /^\d+$/.test(l)), `${title} axis ${labels}`);
  }
  await page.screenshot({ path: join(artifacts, 'stats.png') });

  step('bridges');
  await page.click('#nav a[data-page=bridges]');
  const bridgeRow = page.locator('#bridges tbody tr[data-bridge="e2e-bridge"]');
  await bridgeRow.locator('td', { hasText: /^connected$/ }).waitFor({ timeout: 30000 });
  await bridgeRow.locator('td', { hasText: `127.0.0.1:${env('MQTT_PORT')}` }).waitFor();
  await page.locator('#bridge-count', { hasText: '1 of 1 bridges connected' }).waitFor();
  const sentCell = bridgeRow.locator('td.num').nth(1);
  const sentBefore = Number(await sentCell.textContent());
  execFileSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', env('MQTT_PORT'), '-u', env('MIDGE_USER'), '-P', env('MIDGE_PASSWORD'),
    '-t', 'bridge-out/e2e', '-m', 'over the bridge', '-q', '1'], { stdio: 'inherit', timeout: 10000 });
  await page.waitForFunction(([n]) => {
    const td = document.querySelectorAll('#bridges tbody tr[data-bridge="e2e-bridge"] td.num')[1];
    return td && Number(td.textContent) > n;
  }, [sentBefore]);
  await page.screenshot({ path: join(artifacts, 'bridges.png') });

  step('cluster');
  await page.click('#nav a[data-page=cluster]');
  const nodeRow = page.locator('#cluster-members tbody tr[data-node="e2e-node"]');
  await nodeRow.locator('td', { hasText: /^alive$/ }).waitFor({ timeout: 30000 });
  await nodeRow.locator('td', { hasText: /^leader$/ }).waitFor({ timeout: 30000 });
  await page.locator('#cluster-summary', { hasText: 'Cluster e2e: node e2e-node (Leader), leader e2e-node; 1 of 1 members alive' }).waitFor();
  // The node's clients, as the cluster agreed on them: the test's
  // subscriber stays connected throughout.
  await nodeRow.click();
  await page.locator('#cluster-clients-list li', { hasText: /^e2e-subscriber$/ }).waitFor({ timeout: 30000 });
  await page.locator('#cluster-clients-title', { hasText: /^Clients of e2e-node: \d+/ }).waitFor();
  await page.screenshot({ path: join(artifacts, 'cluster.png') });

  step('ACL tester');
  await page.click('#nav a[data-page=acl]');
  await submit(page, '#acl-form', {
    'input[name=username]': env('MQTT_USER'), 'input[name=clientId]': 'livingroom-sensor',
    'input[name=topic]': 'home/livingroom/setpoint', 'input[value=write]': true,
  });
  await page.locator('#acl-result.allowed', { hasText: 'topic write home/#' }).waitFor();
  await submit(page, '#acl-form', { 'input[value=read]': true, 'input[name=topic]': 'home/kitchen/light' });
  await page.locator('#acl-result.denied .verdict', { hasText: 'Denied' }).waitFor();
  await page.screenshot({ path: join(artifacts, 'acl.png') });

  step('Users page: create a user and a role, grant a topic, and the ACL tester allows it');
  await page.click('#nav a[data-page=users]');
  await page.locator('#users-status', { hasText: /clients/ }).waitFor();
  await submit(page, '#ds-new-client', { 'input[name=username]': 'dyn-user', 'input[name=password]': 'dyn-secret' });
  await page.locator('#ds-clients tr[data-user="dyn-user"]').waitFor();
  await submit(page, '#ds-new-role', { 'input[name=rolename]': 'dyn-role' });
  await page.locator('#ds-roles [data-role="dyn-role"]').waitFor();
  await submit(page, '#ds-acl', {
    'input[name=rolename]': 'dyn-role', 'select[name=acltype]': 'publishClientSend', 'input[name=topic]': 'dyn/%u/#',
  });
  await page.locator('#ds-roles [data-role="dyn-role"] li.allow', { hasText: 'publishClientSend allow dyn/%u/#' }).waitFor();
  await submit(page, '#ds-client-role', { 'input[name=username]': 'dyn-user', 'input[name=rolename]': 'dyn-role' }, 'button[value=add]');
  await page.locator('#ds-clients tr[data-user="dyn-user"] .chip', { hasText: 'dyn-role' }).waitFor();
  await page.screenshot({ path: join(artifacts, 'users.png'), fullPage: true });
  await page.click('#nav a[data-page=acl]');
  await submit(page, '#acl-form', {
    'input[name=username]': 'dyn-user', 'input[name=clientId]': 'dyn-device',
    'input[name=topic]': 'dyn/dyn-user/temperature', 'input[value=write]': true,
  });
  await page.locator('#acl-result.allowed', { hasText: 'publishClientSend allow dyn/%u/# (priority 0)' }).waitFor();
  await submit(page, '#acl-form', { 'input[name=topic]': 'dyn/someone-else/temperature' });
  await page.locator('#acl-result.denied .verdict', { hasText: 'Denied' }).waitFor();

  step('a user who may read two topics sees and counts two');
  await page.close(); // alice's page, whose cookie goes now
  await ctx.clearCookies();
  const viewer = await ctx.newPage();
  viewer.setDefaultTimeout(15000);
  viewer.on('pageerror', (e) => problems.push(`viewer page error: ${e.message}`));
  await viewer.goto(url);
  await submit(viewer, '#login-form', { 'input[name=username]': env('MIDGE_VIEWER'), 'input[name=password]': env('MIDGE_VIEWER_PASSWORD') });
  await viewer.locator('#tree .row .name', { hasText: /^power$/ }).waitFor();
  await viewer.locator('#tree-meta', { hasText: /^2 topics/ }).waitFor();
  const rows = await viewer.locator('#tree .row:not([hidden]) .name').allTextContents();
  must(JSON.stringify(rows) === JSON.stringify(['home', 'kitchen', 'light', 'power']), `viewer's tree ${rows}`);
  await viewer.screenshot({ path: join(artifacts, 'viewer.png') });
  await viewer.click('#nav a[data-page=stats]');
  await viewer.locator('#stat-cards .card', { hasText: 'topics you can see' }).locator('.n', { hasText: /^2$/ }).waitFor();

  step(`screenshots in ${artifacts}`);
});

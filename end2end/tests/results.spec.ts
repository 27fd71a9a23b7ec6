import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { expect, test, type Page } from '@playwright/test';
import { accessible, laptop } from './staff-helpers';

// The public results site (issue 12) on the demo's published history, on a phone (the
// default project) and a laptop: overview, map to province page, year switch, a download that
// parses, an API call that matches the page, rendering without JavaScript, accessibility and
// the transfer budget.

async function noWasm(page: Page) {
  page.on('request', (request) => {
    if (request.url().endsWith('.wasm')) throw new Error(`a results page loaded wasm: ${request.url()}`);
  });
}

test('the front page is the latest release; citizens reach the survey from its header', async ({ page }) => {
  const wasm: string[] = [];
  page.on('request', (request) => {
    if (request.url().endsWith('.wasm')) wasm.push(request.url());
  });
  await page.goto('/ket-qua');
  const latest = (await page.getByRole('heading', { level: 1 }).textContent()) ?? '';
  expect(latest).toMatch(/Chỉ số SIPAS 20\d\d/);
  const response = await page.goto('/');
  expect(response?.status()).toBe(200);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(latest);
  await expect(page.locator('svg.tile-map')).toBeVisible();
  expect(wasm).toEqual([]);
  // The survey is the Leptos application (with its wasm, for offline use).
  await page.getByRole('link', { name: 'Trả lời khảo sát' }).first().click();
  await expect(page).toHaveURL('/khao-sat');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Khảo sát mức độ hài lòng của người dân');
  // One click from the front page to the code form.
  await expect(page.getByRole('textbox', { name: 'Mã trên phiếu mời' })).toBeVisible();
});

test('phone: overview within 100 KB, map to a province page, year switch, accessible', async ({ page }) => {
  await noWasm(page);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const kinds = new Map<string, string>();
  const bytes = new Map<string, number>();
  cdp.on('Network.responseReceived', (e) => kinds.set(e.requestId, `${e.type} ${e.response.url}`));
  cdp.on('Network.loadingFinished', (e) => bytes.set(e.requestId, e.encodedDataLength));
  await page.goto('/ket-qua/2025');
  await page.waitForLoadState('networkidle');
  let transferred = 0;
  for (const [id] of kinds) transferred += bytes.get(id) ?? 0;
  console.log(`results overview, everything transferred: ${transferred} B`);
  expect(transferred).toBeGreaterThan(2_000);
  expect(transferred).toBeLessThanOrEqual(100 * 1024);

  await expect(page.getByRole('heading', { level: 1 })).toContainText('Chỉ số SIPAS 2025');
  // Vietnamese notation: 83,48%.
  await expect(page.getByTestId('national')).toHaveText(/^\d{2},\d{2}%$/);
  await accessible(page, 'results overview');

  // The map's square for Hồ Chí Minh leads to its page.
  await page.locator('svg.tile-map a[href="/ket-qua/2025/tinh/79"]').click();
  await expect(page).toHaveURL('/ket-qua/2025/tinh/79');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Hồ Chí Minh: Chỉ số SIPAS 2025');
  await expect(page.getByTestId('province-index')).toHaveText(/^\d{2},\d{2}%$/);
  // Nothing wider than the phone (wide tables scroll inside their own box).
  for (const address of ['/ket-qua/2025', '/ket-qua/2025/tinh/79']) {
    if (page.url().endsWith(address) === false) await page.goto(address);
    // Against the device width: a mobile browser widens its layout viewport to fit overflow.
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(width, address).toBeLessThanOrEqual(page.viewportSize()?.width ?? 0);
  }
  await page.goto('/ket-qua/2025/tinh/79');
  // The series marks the re-aggregated years and the figures published elsewhere.
  await expect(page.getByRole('cell', { name: /Tính lại/ }).first()).toBeVisible();
  await accessible(page, 'province page');

  // The API gives the number the page shows.
  const api = await page.request.get('/api/v1/releases/2025/latest/provinces/79');
  expect(api.status()).toBe(200);
  expect(api.headers()['access-control-allow-origin']).toBe('*');
  const doc = await api.json();
  const index = doc.cells.find((c: { node: string; subgroup: string }) => c.node === 'sipas' && c.subgroup === '');
  const shown = (await page.getByTestId('province-index').textContent()) ?? '';
  expect(shown).toBe(`${(100 * index.estimate).toFixed(2).replace('.', ',')}%`);

  // The journalist downloads the province's table: in Vietnamese, its rows only, the index as
  // the page shows it (percent, decimal comma).
  const own = page.getByRole('link', { name: 'Bảng của tỉnh này (CSV tiếng Việt, mở bằng Excel)' });
  const table = await page.request.get((await own.getAttribute('href')) ?? '');
  expect(table.status()).toBe(200);
  const rows = (await table.body()).toString('utf8').slice(1).trim().split('\r\n');
  expect(rows.length).toBeGreaterThan(30);
  expect(rows[0].startsWith('Mã tỉnh;Tỉnh, thành phố;Mã chỉ tiêu;Chỉ tiêu;')).toBe(true);
  expect(rows.slice(1).every((row) => row.startsWith('79;Hồ Chí Minh;'))).toBe(true);
  expect(rows[1].split(';')[5]).toBe(shown.replace('%', ''));
  // The headline and the table say the same about precision.
  const flag = rows[1].split(';')[11];
  if (flag.startsWith('độ chính xác thấp')) await expect(page.getByTestId('province-flag')).toBeVisible();
  else await expect(page.getByTestId('province-flag')).toHaveCount(0);

  // Year switch: 2024 is on the 63-province map.
  await page.goto('/ket-qua/2025');
  await page.getByRole('navigation', { name: 'Năm công bố' }).getByRole('link', { name: '2024' }).click();
  await expect(page).toHaveURL('/ket-qua/2024');
  await expect(page.locator('svg.tile-map rect.tile')).toHaveCount(63);
  await expect(page.getByText('63 tỉnh, thành phố (trước 7/2025)', { exact: false })).toBeVisible();
  // 2024 has a correction: v2, with the note; v1 says it was corrected.
  await expect(page.locator('.changelog')).toBeVisible();
  await page.goto('/ket-qua/2024/v1');
  await expect(page.getByText('Đây là phiên bản cũ')).toBeVisible();
  // The demo's 2024 v1 lacks a province: its page and its README say which.
  await expect(page.getByTestId('missing-provinces')).toBeVisible();
  const missing = ((await page.getByTestId('missing-provinces').textContent()) ?? '').match(/\b\d{2} [^,.]+/)?.[0] ?? '';
  expect(missing).not.toBe('');
  expect(await (await page.request.get('/du-lieu/2024/v1/README.txt')).text()).toContain(missing);
});

test('every release of the demo verifies from its public files alone', async ({ request }) => {
  const { releases } = await (await request.get('/api/v1/releases')).json();
  expect(releases.length).toBeGreaterThanOrEqual(4);
  for (const release of releases as { year: number; version: number }[]) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sipas-verify-${release.year}-`));
    const base = `/du-lieu/${release.year}/v${release.version}`;
    for (const file of ['results.csv', 'aggregates.csv', 'methodology.toml']) {
      const got = await request.get(`${base}/${file}`);
      expect(got.status(), `${base}/${file}`).toBe(200);
      fs.writeFileSync(path.join(dir, `sipas-${release.year}-v${release.version}-${file}`), await got.body());
    }
    // The README names last year's table when the release shows changes.
    const readme = await (await request.get(`${base}/README.txt`)).text();
    const previous = readme.match(/PREVIOUS\.csv is its\s+(\/du-lieu\/\S+?\.csv)/)?.[1];
    const args = ['verify', dir];
    if (previous) {
      const got = await request.get(previous);
      expect(got.status(), previous).toBe(200);
      fs.writeFileSync(path.join(dir, 'previous.csv'), await got.body());
      args.push('--previous', path.join(dir, 'previous.csv'));
    }
    const out = execFileSync(process.env.SIPAS_E2E_BIN ?? '', args, {
      env: { ...process.env, RUST_LOG: 'warn' },
    }).toString();
    expect(out, `${base}: ${out}`).toContain('Every published number was reproduced.');
  }
});

test('laptop: the table downloads and parses, English, methodology', async ({ browser }) => {
  const context = await browser.newContext(laptop);
  const page = await context.newPage();
  await noWasm(page);
  await page.goto('/ket-qua/2025');
  const link = page.getByRole('link', { name: 'Bảng kết quả (CSV cho máy đọc, tên cột tiếng Anh)' });
  const csv = await page.request.get((await link.getAttribute('href')) ?? '');
  expect(csv.status()).toBe(200);
  const lines = (await csv.body()).toString('utf8').slice(1).trim().split('\n');
  const header = lines[0].split(',');
  // The headline is the methodology's national figure: the mean of provinces.
  const national = lines.find((l) => l.startsWith('national_mean,,sipas,'))?.split(',') ?? [];
  const estimate = Number(national[header.indexOf('estimate')]);
  await expect(page.getByTestId('national')).toHaveText(`${(100 * estimate).toFixed(2).replace('.', ',')}%`);
  // Sorted by name, then in English.
  await page.getByRole('link', { name: 'theo tên' }).click();
  await expect(page).toHaveURL(/sap-xep=ten/);
  await page.getByRole('link', { name: 'English' }).click();
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  await expect(page.getByRole('heading', { level: 1 })).toContainText('SIPAS index 2025');
  await expect(page.getByTestId('national')).toHaveText(`${(100 * estimate).toFixed(2)}%`);
  await accessible(page, 'results overview (English, laptop)');
  await page.getByRole('link', { name: 'Methodology', exact: true }).click();
  await expect(page).toHaveURL('/phuong-phap');
  await expect(page.getByRole('heading', { name: 'Why ranks are ranges' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'SIPAS 2024 v2' })).toBeVisible();
  await accessible(page, 'methodology');

  // Printed (or saved as PDF): no navigation, language switch or download list; the chart,
  // the map and the tables are kept, and the tables are not cut to a scroll box.
  for (const address of ['/ket-qua/2025', '/ket-qua/2025/tinh/79']) {
    await page.goto(address);
    await page.emulateMedia({ media: 'print' });
    // Every page has the header and the downloads; only the overview has the year menu.
    const hidden = address.includes('/tinh/') ? ['.results-header', '.downloads'] : ['.results-header', '.downloads', '.years'];
    for (const selector of hidden) {
      await expect(page.locator(selector)).not.toHaveCount(0);
      await expect(page.locator(selector).first()).toBeHidden();
    }
    await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
    await expect(page.locator('table.results-table').first()).toBeVisible();
    await expect(page.locator('svg.dot-chart, svg.series-chart').first()).toBeVisible();
    const overflow = await page.locator('.table-scroll').first().evaluate((e) => getComputedStyle(e).overflowX);
    expect(overflow).toBe('visible');
    const pdf = await page.pdf({ format: 'A4' });
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    await page.emulateMedia({ media: 'screen' });
    await expect(page.locator('.downloads')).toBeVisible();
  }
  await context.close();
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('every results page is complete', async ({ page }) => {
    await page.goto('/ket-qua');
    await expect(page.getByTestId('national')).toHaveText(/%$/);
    await expect(page.locator('table.results-table tbody tr').first()).toBeVisible();
    await page.goto('/ket-qua/2025/tinh/01');
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Hà Nội: Chỉ số SIPAS 2025');
    await expect(page.locator('table.detail tbody tr').first()).toBeVisible();
  });
});

import { expect, test, type Browser, type Page } from '@playwright/test';
import * as fs from 'fs';
import * as path from 'path';
import { answerUntilLastScreen, hydrated, SUBMIT } from './survey-helpers';
import { accessible, clippedCodes, signIn, staffPage, staffScreen } from './staff-helpers';

// The Ministry's side on a laptop: an administrator makes accounts, ministry staff run a wave
// (frame, batch, printed sheet), a citizen answers on a phone, monitoring counts it, a provincial
// officer sees only their province, and the exports download. Every staff page passes axe
// (WCAG 2.1 AA) and loads no wasm at all.
test.describe.configure({ mode: 'serial', timeout: 240_000 });

const ADMIN_PASSWORD = process.env.SIPAS_E2E_ADMIN_PASSWORD ?? '';
const CENTRAL_PASSWORD = 'mật khẩu cán bộ trung ương';
const PROVINCIAL_PASSWORD = 'mật khẩu cán bộ Hà Nội 01';
const WAVE = 'e2e-2027';
const FRAME =
  'province,stratum,stratum_population,stratum_psus,psu,psu_name,target\n' +
  '01,01-urban,500000,120,00004,Phường Ba Đình,30\n' +
  '79,79-urban,800000,200,26740,Phường Sài Gòn,40\n';

let code = '';

test('an administrator creates a ministry user and a provincial officer', async ({ browser }) => {
  const page = await staffPage(browser);
  await page.goto('/staff/login');
  await staffScreen(page, 'sign-in');
  await signIn(page, 'admin', ADMIN_PASSWORD);
  await expect(page).toHaveURL('/staff/users');
  await staffScreen(page, 'accounts');
  const add = async (username: string, name: string, role: string, province: string, password: string) => {
    await page.locator('#new-username').fill(username);
    await page.locator('#new-name').fill(name);
    await page.locator('#new-role').selectOption(role);
    await page.locator('#new-province').selectOption(province);
    await page.locator('#new-password').fill(password);
    await page.getByRole('button', { name: 'Thêm', exact: true }).click();
    await expect(page.getByRole('cell', { name: username, exact: true })).toBeVisible();
  };
  // The browser checks the username itself: its pattern must compile (under the `v` flag an
  // unescaped `-` at the end of a class is an error, and the browser then checks nothing).
  await page.locator('#new-username').fill('Tên Có Dấu');
  expect(await page.locator('#new-username').evaluate((el) => (el as HTMLInputElement).validity.patternMismatch)).toBe(true);
  await page.locator('#new-username').fill('');
  await add('trung.uong', 'Nguyễn Văn Trung', 'central', '', CENTRAL_PASSWORD);
  await add('ha.noi', 'Trần Thị Hà', 'provincial', '01', PROVINCIAL_PASSWORD);
  // Disabling an account and resetting a password are asked first, each on a page of its own.
  await page.getByRole('row', { name: /ha\.noi/ }).getByRole('button', { name: 'Khóa' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Khóa tài khoản ha.noi');
  await staffScreen(page, 'disable: confirmation');
  await page.getByRole('link', { name: 'Không, quay lại' }).click();
  await page.getByRole('button', { name: 'Đặt lại mật khẩu của ha.noi' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Đặt lại mật khẩu của ha.noi');
  await staffScreen(page, 'password: confirmation');
  await page.getByRole('link', { name: 'Không, quay lại' }).click();
  await expect(page.getByRole('cell', { name: 'ha.noi', exact: true })).toBeVisible();
  await page.goto('/staff/audit');
  await staffScreen(page, 'audit log');
  // The two accounts made here, in words (the demonstration made its postal workers' too, as
  // `demo`, and `sipas admin create` the administrator, as `cli`).
  await page.locator('#f-actor').fill('admin');
  await page.locator('#f-action').selectOption('account_created');
  await page.getByRole('button', { name: 'Lọc' }).click();
  await expect(page.getByRole('cell', { name: 'Tạo tài khoản', exact: true })).toHaveCount(2);
  await expect(page.locator('tbody tr')).toHaveCount(2);
});

test('ministry staff create a wave, upload its frame, issue and print a batch', async ({ browser }) => {
  const page = await staffPage(browser);
  await signIn(page, 'trung.uong', CENTRAL_PASSWORD);
  await expect(page).toHaveURL('/staff');
  await staffScreen(page, 'waves');
  await page.goto('/staff/questionnaires');
  await staffScreen(page, 'questionnaires');
  await page.getByRole('link', { name: /sipas-2023 v1/ }).first().click();
  await staffScreen(page, 'questionnaire');
  await page.goto('/staff');
  await page.getByRole('link', { name: 'Tạo đợt khảo sát' }).click();
  await staffScreen(page, 'new wave');
  await page.getByLabel('Mã đợt').fill(WAVE);
  await page.getByLabel('Tên đợt').fill('Khảo sát thử nghiệm 2027');
  await page.getByLabel('Năm').fill('2027');
  await page.getByLabel('Ngày đóng').fill('2099-12-31');
  await page.getByRole('button', { name: 'Tạo đợt' }).click();
  await expect(page).toHaveURL(`/staff/waves/${WAVE}`);
  await staffScreen(page, 'wave');

  await page.getByRole('link', { name: 'Dàn mẫu và chỉ tiêu' }).click();
  await page.locator('#file').setInputFiles({ name: 'frame.csv', mimeType: 'text/csv', buffer: Buffer.from(FRAME) });
  await page.getByRole('button', { name: 'Tải lên' }).click();
  await expect(page.getByRole('cell', { name: 'Phường Ba Đình' })).toBeVisible();
  await staffScreen(page, 'frame');

  // The sample design, a GET form that works without JavaScript: the Ministry's rule first,
  // then a precision target of ±4 points.
  await page.goto(`/staff/waves/${WAVE}`);
  await page.getByRole('link', { name: 'Thiết kế mẫu' }).click();
  await expect(page.getByRole('row', { name: /01 Hà Nội/ })).toContainText('408');
  await staffScreen(page, 'sample design');
  await page.getByLabel('Đủ để sai số không quá mức mục tiêu').check();
  await page.getByRole('button', { name: 'Tính lại bảng' }).click();
  await expect(page).toHaveURL(/rule=precision/);
  const margins = await page.locator('tbody tr td:nth-child(7)').allTextContents();
  expect(margins.length).toBe(34);
  for (const margin of margins) expect(Number(margin.replace('± ', '').replace(',', '.'))).toBeLessThanOrEqual(4);

  await page.goto(`/staff/waves/${WAVE}/batches`);
  await expect(page.getByText('Chưa phát mã nào')).toBeVisible();
  await staffScreen(page, 'batches');
  await page.getByLabel('Cho', { exact: true }).selectOption('psu:00004');
  await page.getByLabel('Số mã').fill('3');
  await page.getByRole('button', { name: 'Phát mã' }).click();
  await expect(page.locator('article.card')).toHaveCount(3);
  await expect(page.locator('article.card svg')).toHaveCount(3);
  await expect(page.getByRole('button', { name: 'In phiếu' })).toBeVisible();
  await staffScreen(page, 'printable sheet');
  // The codes are shown this once: each whole on screen, on a laptop and on a tablet.
  expect(await clippedCodes(page)).toEqual([]);
  await page.setViewportSize({ width: 768, height: 1024 });
  expect(await clippedCodes(page)).toEqual([]);
  await page.setViewportSize({ width: 1280, height: 800 });
  // Named for what it is for, not by its id; no code ends in a symbol a citizen would doubt.
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Xã/phường (PSU) 00004 · 3 mã');
  for (const shown of await page.locator('article.card .code').allTextContents()) {
    expect(shown).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}-[0-9A-Z]$/);
  }
  code = ((await page.locator('input[name=codes]').getAttribute('value')) ?? '').split(' ')[0];
  expect(code.length).toBeGreaterThan(10);
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Tải CSV' }).click(),
  ]);
  const csv = fs.readFileSync(await download.path());
  expect(csv.subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
  expect(csv.toString('utf8').trim().split('\n')).toHaveLength(4);

  // Voiding is asked first; going back voids nothing (a citizen answers one of these codes next).
  await page.goto(`/staff/waves/${WAVE}/batches`);
  await expect(page.getByRole('cell', { name: 'Xã/phường (PSU) 00004' })).toBeVisible();
  await expect(page.getByRole('cell', { name: '01 Hà Nội' })).toBeVisible();
  await page.getByRole('button', { name: /^Hủy lô/ }).first().click();
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Hủy lô');
  await staffScreen(page, 'void: confirmation');
  await page.getByRole('link', { name: 'Không, quay lại' }).click();
  await expect(page.getByText('đã hủy')).toHaveCount(0);
});

test('a citizen answers one of the printed codes on a phone', async ({ page }) => {
  await page.goto(`/s/${code}`);
  await hydrated(page);
  await answerUntilLastScreen(page);
  await page.getByRole('button', { name: SUBMIT }).click();
  await expect(page).toHaveURL(/\/receipt\//);
});

test('monitoring shows the answer against the target; the province officer sees only their province', async ({
  browser,
}) => {
  const page = await staffPage(browser);
  await signIn(page, 'trung.uong', CENTRAL_PASSWORD);
  await page.goto(`/staff/waves/${WAVE}/monitor`);
  await staffScreen(page, 'monitoring');
  const hanoi = page.locator('table.sortable').getByRole('row', { name: /01 Hà Nội/ });
  await expect(hanoi.getByRole('cell').nth(0)).toHaveText('30');
  await expect(hanoi.getByRole('cell').nth(1)).toHaveText('1');
  await expect(page.locator('table.sortable').getByRole('row', { name: /79 Hồ Chí Minh/ })).toBeVisible();

  const officer = await staffPage(browser);
  await signIn(officer, 'ha.noi', PROVINCIAL_PASSWORD);
  await officer.goto(`/staff/waves/${WAVE}/monitor`);
  await expect(officer.getByText('Phường Ba Đình')).toBeVisible();
  await expect(officer.getByText('Sài Gòn')).toHaveCount(0);
  const refused = await officer.goto(`/staff/waves/${WAVE}/monitor?province=79`);
  expect(refused?.status()).toBe(403);
  await officer.goto(`/staff/waves/${WAVE}/import`);
  await staffScreen(officer, 'paper import');
});

test('ministry staff review the answer: flagged as too fast, excluded with a reason, reversible', async ({
  browser,
}) => {
  const page = await staffPage(browser);
  await signIn(page, 'trung.uong', CENTRAL_PASSWORD);
  await page.goto(`/staff/waves/${WAVE}`);
  await page.getByRole('link', { name: 'Rà soát chất lượng phiếu' }).click();
  await expect(page).toHaveURL(`/staff/waves/${WAVE}/quality`);
  await staffScreen(page, 'quality review');
  // The citizen above answered every question with its first choice within seconds: too fast,
  // and the same answer all the way down.
  const row = page.locator('#queue tbody tr').filter({ hasText: 'Trả lời quá nhanh' });
  await expect(row).toHaveCount(1);
  await expect(row).toContainText('Cùng một câu trả lời cho nhiều câu liên tiếp');
  await expect(row).toContainText('Chưa rà soát');
  await row.getByRole('link').click();
  await staffScreen(page, 'quality review: response');
  await expect(page.getByText(/Được tính, nhưng chờ rà soát/)).toBeVisible();
  await page.getByLabel('Loại: không tính').check();
  await page.getByLabel('Lý do', { exact: true }).selectOption('speeding');
  await page.getByLabel(/Ghi chú/).fill('Trả lời 48 câu trong vài giây.');
  await page.getByRole('button', { name: 'Ghi quyết định' }).click();
  await expect(page.getByText(/Đã ghi quyết định/)).toBeVisible();
  await expect(page.getByText('Không được tính vào chỉ số (đã loại)')).toBeVisible();
  await expect(page.locator('ol li')).toHaveCount(1);
  await expect(page.locator('ol li').first()).toContainText('Trả lời 48 câu trong vài giây.');
  // The officer of the province the index ranks cannot review its responses.
  const officer = await staffPage(browser);
  await signIn(officer, 'ha.noi', PROVINCIAL_PASSWORD);
  const refused = await officer.goto(`/staff/waves/${WAVE}/quality`);
  expect(refused?.status()).toBe(403);
  // The decision is in the audit log (read by the administrator).
  const admin = await staffPage(browser);
  await signIn(admin, 'admin', ADMIN_PASSWORD);
  await admin.goto('/staff/audit?action=response_reviewed');
  await expect(admin.getByRole('cell', { name: 'Rà soát chất lượng phiếu', exact: true })).toHaveCount(1);
});

test('the export downloads as CSV (BOM, diacritics) and XLSX', async ({ browser }) => {
  const page = await staffPage(browser);
  await signIn(page, 'trung.uong', CENTRAL_PASSWORD);
  await page.goto(`/staff/waves/${WAVE}/export`);
  await staffScreen(page, 'exports');
  const [csvDownload] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'CSV (UTF-8, Excel)' }).click(),
  ]);
  const csv = fs.readFileSync(await csvDownload.path());
  expect(csv.subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
  const text = csv.toString('utf8');
  expect(text).toContain('Hà Nội');
  expect(text.trim().split('\n')).toHaveLength(2);
  const [xlsxDownload] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'XLSX' }).click(),
  ]);
  const xlsx = fs.readFileSync(await xlsxDownload.path());
  expect(xlsx.subarray(0, 2).toString()).toBe('PK');
});

/**
 * Keys one paper form with the keyboard alone, as a clerk does: the commune and the form's
 * number, then one digit per item the form asks (the script moves on by itself and skips the
 * items an earlier answer leaves out), then Enter. `choose` picks the digit of each item.
 * Returns the keys pressed besides the answers, the answers typed, and the seconds it took.
 */
async function keyForm(page: Page, psu: string, form: string, choose: (item: string, values: string[]) => string) {
  await page.goto(`/staff/waves/${WAVE}/keying`);
  // The code field has autofocus; focused here in case the test browser ignores it.
  await page.locator('#code').focus();
  const started = Date.now();
  let other = 0;
  let answers = 0;
  const press = async (key: string) => {
    await page.keyboard.press(key);
  };
  await press('Tab');
  other++;
  for (const key of psu) {
    await press(key);
    other++;
  }
  await press('Tab');
  other++;
  for (const key of form) {
    await press(key);
    other++;
  }
  await press('Tab');
  other++;
  for (let guard = 0; guard < 200; guard++) {
    const focused = await page.evaluate(() => {
      const el = document.activeElement as HTMLInputElement | null;
      return el && el.dataset.values !== undefined ? { name: el.name, values: el.dataset.values.split(' ') } : null;
    });
    if (!focused) break;
    await press(choose(focused.name, focused.values));
    answers++;
  }
  await press('Enter');
  other++;
  await page.waitForLoadState('load');
  return { other, answers, seconds: (Date.now() - started) / 1000 };
}

test('two clerks key a paper form with the keyboard; a supervisor decides their one difference', async ({
  browser,
}) => {
  // A supervisor: someone else allowed to key forms.
  const admin = await staffPage(browser);
  await signIn(admin, 'admin', ADMIN_PASSWORD);
  await admin.locator('#new-username').fill('giam.sat');
  await admin.locator('#new-name').fill('Võ Giám Sát');
  await admin.locator('#new-role').selectOption('central');
  await admin.locator('#new-password').fill(CENTRAL_PASSWORD);
  await admin.getByRole('button', { name: 'Thêm', exact: true }).click();
  await expect(admin.getByRole('cell', { name: 'giam.sat', exact: true })).toBeVisible();

  const first = await staffPage(browser);
  await signIn(first, 'trung.uong', CENTRAL_PASSWORD);
  await first.goto(`/staff/waves/${WAVE}/keying`);
  await staffScreen(first, 'keying');
  // Satisfaction items (1-5 and 9) get 4; everything else its first value.
  const typical = (_item: string, values: string[]) => (values.includes('9') ? '4' : values[0]);
  const one = await keyForm(first, '00004', '7', typical);
  await expect(first.getByText('Đã lưu lần nhập thứ nhất')).toBeVisible();
  console.log(`keying: ${one.answers} answers, ${one.other} other keys, ${one.seconds.toFixed(1)} s`);
  test.info().annotations.push({
    type: 'keying',
    description: `${one.answers} answers + ${one.other} other keys in ${one.seconds.toFixed(1)} s`,
  });
  expect(one.answers).toBeGreaterThanOrEqual(40);
  expect(one.other).toBeLessThan(60);

  // The second clerk reads one satisfaction answer as 5.
  const second = await staffPage(browser);
  await signIn(second, 'ha.noi', PROVINCIAL_PASSWORD);
  let misread = '';
  const two = await keyForm(second, '00004', '7', (item, values) => {
    if (!misread && values.includes('9')) {
      misread = item;
      return '5';
    }
    return typical(item, values);
  });
  expect(two.answers).toBe(one.answers);
  await expect(second.getByText(/Khác lần nhập thứ nhất ở/)).toBeVisible();
  // The same clerk cannot key it again.
  await keyForm(second, '00004', '7', typical);
  await expect(second.getByText('lần nhập thứ hai phải do người khác')).toBeVisible();

  // The supervisor sees the two values side by side and decides against the paper.
  const supervisor = await staffPage(browser);
  await signIn(supervisor, 'giam.sat', CENTRAL_PASSWORD);
  await supervisor.goto(`/staff/waves/${WAVE}/keying`);
  await supervisor.getByRole('row', { name: /Hai lần nhập khác nhau/ }).getByRole('link').click();
  await staffScreen(supervisor, 'keying: differing entries');
  const row = supervisor.getByRole('row', { name: new RegExp(misread) });
  await expect(row.getByRole('cell').nth(0)).toHaveText('4');
  await expect(row.getByRole('cell').nth(1)).toHaveText('5');
  await row.getByRole('combobox').selectOption('4');
  await supervisor.getByRole('button', { name: 'Lưu theo phiếu giấy' }).click();
  await expect(supervisor.getByText(/đã được lưu theo phiếu giấy/)).toBeVisible();
  await expect(supervisor.getByRole('row', { name: /Đã lưu thành phiếu trả lời/ })).toHaveCount(1);
});

test('forms are assigned to a postal worker, who marks them on a 360 px phone without JavaScript', async ({
  browser,
}) => {
  const admin = await staffPage(browser);
  await signIn(admin, 'admin', ADMIN_PASSWORD);
  await admin.locator('#new-username').fill('buu.ta');
  await admin.locator('#new-name').fill('Lê Văn Bưu');
  await admin.locator('#new-role').selectOption('field');
  await admin.locator('#new-province').selectOption('01');
  await admin.locator('#new-communes').fill('00004');
  await admin.locator('#new-password').fill(CENTRAL_PASSWORD);
  await admin.getByRole('button', { name: 'Thêm', exact: true }).click();
  await expect(admin.getByRole('cell', { name: 'buu.ta', exact: true })).toBeVisible();

  // Ministry staff give the worker 30 numbered paper forms of Ba Đình and the batch's codes
  // there (one of which the citizen above answered online).
  const page = await staffPage(browser);
  await signIn(page, 'trung.uong', CENTRAL_PASSWORD);
  await page.goto(`/staff/waves/${WAVE}`);
  await page.getByRole('link', { name: 'Phát, thu phiếu và tỷ lệ trả lời' }).click();
  await staffScreen(page, 'fieldwork');
  await page.getByLabel('Tỉnh', { exact: true }).selectOption('01');
  await page.getByRole('button', { name: 'Xem', exact: true }).click();
  await expect(page).toHaveURL(/province=01/);
  const assign = async (forms: () => Promise<void>) => {
    await page.getByLabel('Nhân viên phát và thu phiếu').selectOption({ label: 'Lê Văn Bưu (buu.ta) — chỉ xã/phường 00004' });
    await page.getByLabel('Xã/phường (PSU)').selectOption('00004');
    await forms();
    await page.getByLabel('Ngày phát').fill('2027-10-01');
    await page.getByLabel(/Hạn thu/).fill('2027-10-03');
    await page.getByRole('button', { name: 'Giao', exact: true }).click();
    await expect(page.getByText(/^Đã giao \d+ phiếu \(số/)).toBeVisible();
  };
  await assign(() => page.getByLabel(/số phiếu giấy/).fill('30'));
  await assign(async () => {
    const batch = await page.locator('#assign-batch option', { hasText: '00004' }).first().getAttribute('value');
    await page.getByLabel(/Tất cả mã mời chưa giao/).selectOption(batch ?? '');
  });

  // The worker's phone: 360 px wide, no JavaScript.
  const phoneSize = { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true };
  const context = await browser.newContext({ ...phoneSize, javaScriptEnabled: false });
  const phone = await context.newPage();
  await signIn(phone, 'buu.ta', CENTRAL_PASSWORD);
  await expect(phone).toHaveURL('/staff/field');
  await phone.getByRole('link', { name: /00004/ }).last().click();
  await expect(phone.locator('ol.forms li')).toHaveCount(30);
  // The checks themselves run scripts: the same pages on the same phone with JavaScript on are
  // accessible and fit its width.
  const checker = await (await browser.newContext(phoneSize)).newPage();
  await signIn(checker, 'buu.ta', CENTRAL_PASSWORD);
  for (const [path, screen] of [
    ['/staff/field', 'field worker: assignments'],
    [new URL(phone.url()).pathname, 'field worker: forms'],
  ]) {
    await checker.goto(path);
    await accessible(checker, screen);
    expect(await checker.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
  }
  // The paper forms are numbered on from the commune's last keyed one (form 7, keyed above).
  const forms = phone.locator('ol.forms select');
  await expect(phone.locator('ol.forms label').first()).toHaveText('Phiếu số 8');
  for (const n of [0, 1, 2]) await forms.nth(n).selectOption('collected');
  await forms.nth(3).selectOption('refused');
  // Everything else was handed out: one button.
  await phone.getByRole('button', { name: /Lưu, và ghi mọi phiếu còn/ }).click();
  await expect(phone.getByText('Đã lưu 30 phiếu.')).toBeVisible();
  await expect(forms.last()).toHaveValue('handed_out');
  await expect(forms.first()).toHaveValue('collected');
  await phone.screenshot({ path: test.info().outputPath('field-worker-forms-360x740.png'), fullPage: true });
  await phone.getByRole('link', { name: '← Phiếu được giao' }).click();
  await phone.getByRole('link', { name: /00004/ }).first().click();
  await expect(phone.getByText('✓ đã trả lời trực tuyến')).toHaveCount(1);
  await context.close();

  // Monitoring: the worker's row and Ba Đình's rates. Ba Đình: I = 3 collected + 1 online,
  // R = 1 refused + 26 handed out, UH = 2 codes not handed out: RR1 = 4 / 33.
  await page.goto(`/staff/waves/${WAVE}/fieldwork?province=01`);
  await staffScreen(page, 'fieldwork: province');
  const commune = page.getByRole('row', { name: /^00004 Phường Ba Đình \(01\)/ });
  await expect(commune).toContainText('12,1%');
  await expect(page.getByRole('row', { name: /^Lê Văn Bưu \(buu\.ta, 01\)/ })).toContainText('33');

  // The demonstration's current wave, marked by its postal workers: every province has rates.
  await page.goto('/staff/waves/sipas-2026-demo/fieldwork');
  const rows = page.locator('table.data').first().locator('tbody tr');
  await expect(rows).toHaveCount(34);
  for (const cell of await rows.locator('td:nth-last-child(2)').allTextContents()) {
    const rr1 = Number(cell.replace('%', '').replace(',', '.'));
    expect(rr1).toBeGreaterThan(60);
    expect(rr1).toBeLessThan(100);
  }
});

test('ministry staff draw the communes of a wave on the design page (no JavaScript needed)', async ({ browser }) => {
  const page = await staffPage(browser);
  await signIn(page, 'trung.uong', CENTRAL_PASSWORD);
  await page.goto('/staff/waves/new');
  await page.getByLabel('Mã đợt').fill('e2e-2028-mau');
  await page.getByLabel('Tên đợt').fill('Chọn mẫu thử nghiệm 2028');
  await page.getByLabel('Năm').fill('2028');
  await page.getByRole('button', { name: 'Tạo đợt' }).click();
  await page.getByRole('link', { name: 'Thiết kế mẫu' }).click();
  // Adults per commune for the official list shipped with the platform.
  const list = fs.readFileSync(path.join(__dirname, '..', '..', 'data', 'geography', 'communes_2025.csv'), 'utf8');
  const sizes = ['commune,size']
    .concat(
      list
        .trim()
        .split('\n')
        .slice(1)
        .map((line, i) => `${line.split(',')[1]},${2000 + ((i * 37) % 9000)}`),
    )
    .join('\n');
  await page.locator('#communes').fill('10');
  await page.getByRole('button', { name: 'Tính lại bảng' }).click();
  await page.locator('#sizes').setInputFiles({ name: 'adults.csv', mimeType: 'text/csv', buffer: Buffer.from(sizes) });
  await page.locator('#seed').fill('20261207');
  await page.getByRole('button', { name: 'Chọn mẫu và lập dàn mẫu' }).click();
  await expect(page).toHaveURL('/staff/waves/e2e-2028-mau/frame');
  await expect(page.getByText('Đã chọn 340 xã/phường (hạt giống 20261207)')).toBeVisible();
  await expect(page.getByRole('cell', { name: '01-thanh-thi' }).first()).toBeVisible();
  await staffScreen(page, 'drawn frame');
});

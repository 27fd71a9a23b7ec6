import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { expect, test } from '@playwright/test';
import { signIn, staffPage, staffScreen } from './staff-helpers';

// From responses to a published release in the browser (issue 11): a statistician computes the
// demo's current wave (its paper forms are seeded by `sipas demo`), reviews and submits the
// draft; an approving official approves and publishes it; the release's open data downloads.
// (Named to run after staff.spec.ts, whose audit count expects only its own accounts.)
test.describe.configure({ mode: 'serial', timeout: 240_000 });

const ADMIN_PASSWORD = process.env.SIPAS_E2E_ADMIN_PASSWORD ?? '';
const STATISTICIAN_PASSWORD = 'mật khẩu thống kê viên 2026';
const APPROVER_PASSWORD = 'mật khẩu lãnh đạo phê duyệt';
const RESEARCHER_PASSWORD = 'mật khẩu nhà nghiên cứu 2026';
const WAVE = 'sipas-2026-demo';
let draftUrl = '';

test('an administrator creates a statistician and an approving official', async ({ browser }) => {
  const page = await staffPage(browser);
  await signIn(page, 'admin', ADMIN_PASSWORD);
  await expect(page).toHaveURL('/staff/users');
  for (const [username, name, role, password] of [
    ['thong.ke', 'Lê Thống Kê', 'statistician', STATISTICIAN_PASSWORD],
    ['lanh.dao', 'Phạm Lãnh Đạo', 'approver', APPROVER_PASSWORD],
  ]) {
    await page.locator('#new-username').fill(username);
    await page.locator('#new-name').fill(name);
    await page.locator('#new-role').selectOption(role);
    await page.locator('#new-password').fill(password);
    await page.getByRole('button', { name: 'Thêm', exact: true }).click();
    await expect(page.getByRole('cell', { name: username, exact: true })).toBeVisible();
  }
});

test('the statistician computes the current wave and submits the draft', async ({ browser }) => {
  const page = await staffPage(browser);
  await signIn(page, 'thong.ke', STATISTICIAN_PASSWORD);
  await page.goto(`/staff/waves/${WAVE}`);
  await page.getByRole('link', { name: 'Kết quả: tính, duyệt, công bố' }).click();
  await expect(page).toHaveURL(`/staff/waves/${WAVE}/results`);
  // The published history of the demo is listed with its open data.
  await staffScreen(page, 'results');
  // First the quality review: one of the demo's straight-liners is excluded after a look.
  await page.goto(`/staff/waves/${WAVE}/quality`);
  const flagged = page.locator('#queue tbody tr').filter({ hasText: 'Chưa rà soát' });
  await expect(flagged.first()).toBeVisible();
  const province = (await flagged.first().locator('td').first().textContent())?.trim() ?? '';
  await flagged.first().getByRole('link').click();
  await page.getByLabel('Loại: không tính').check();
  await page.getByLabel('Lý do', { exact: true }).selectOption('straight_lining');
  await page.getByRole('button', { name: 'Ghi quyết định' }).click();
  await expect(page.getByText(/Đã ghi quyết định/)).toBeVisible();
  // The rest, flagged only for straight-lining, approved as a group after that look.
  await page.goto(`/staff/waves/${WAVE}/quality`);
  await page.getByText('Quyết định cho cả nhóm').click();
  await page.getByLabel('Chỉ bị đánh dấu vì').selectOption('straight_lining');
  await page.getByLabel('Chấp thuận: tính vào chỉ số').check();
  await page.locator('#bulk-reason').selectOption('checked');
  await page.getByRole('button', { name: 'Ghi cho cả nhóm' }).click();
  await expect(page.getByText(/Đã ghi quyết định cho \d+ phiếu/)).toBeVisible();
  await staffScreen(page, 'quality review: after a group decision');
  await page.goto(`/staff/waves/${WAVE}/results`);
  await page.getByRole('button', { name: 'Bắt đầu tính' }).click();
  await expect(page).toHaveURL(/\/staff\/computations\/\d+$/);
  draftUrl = new URL(page.url()).pathname;
  // The page reloads itself (no script) until the job is done.
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Bản nháp', { timeout: 120_000 });
  await expect(page.getByRole('link', { name: 'Hồ Chí Minh', exact: true })).toBeVisible();
  // Last year (2025, same map) is the comparison.
  await expect(page.getByText('SIPAS 2025 v1', { exact: true })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Báo cáo trọng số' })).toBeVisible();
  // The draft counts what the review left out: the excluded response, for its reason, and the
  // flagged ones nobody has decided on yet (with a warning).
  const excluded = page
    .locator('tr')
    .filter({ hasText: 'Loại: Cùng một câu trả lời cho nhiều câu liên tiếp' });
  await expect(excluded).toHaveCount(1);
  await expect(excluded.locator('td.num')).toHaveText('1');
  expect(province).toMatch(/^\d{2}$/);
  // Every flagged response decided: no warning, and the draft can be submitted.
  await expect(page.getByText(/phiếu bị đánh dấu chưa được rà soát vẫn được tính/)).toHaveCount(0);
  await staffScreen(page, 'draft');
  // One province in full: contents, elements and items.
  await page.getByRole('link', { name: 'Hồ Chí Minh', exact: true }).click();
  // Each element in words, beside the code the open data uses.
  await expect(page.locator('#domain code', { hasText: 'procedures' })).toBeVisible();
  await expect(page.locator('#domain th', { hasText: 'Thủ tục hành chính' })).toBeVisible();
  await page.getByLabel('Nhận xét').fill('Đã đối chiếu với báo cáo thực địa.');
  await page.getByRole('button', { name: 'Gửi nhận xét' }).click();
  await expect(page.getByText('Đã đối chiếu với báo cáo thực địa.')).toBeVisible();
  await page.getByRole('button', { name: 'Trình phê duyệt' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Chờ phê duyệt');
  // The statistician cannot approve their own work: there is no button, and the server refuses.
  await expect(page.getByRole('button', { name: 'Phê duyệt', exact: true })).toHaveCount(0);
  const forced = await page.request.post(`${draftUrl}/approve`, {
    headers: { origin: new URL(page.url()).origin },
  });
  expect(forced.status()).toBe(403);
});

test('an approving official approves and publishes; the open data downloads', async ({ browser }) => {
  const page = await staffPage(browser);
  await signIn(page, 'lanh.dao', APPROVER_PASSWORD);
  await page.goto(draftUrl);
  await page.getByRole('button', { name: 'Phê duyệt', exact: true }).click();
  // Approving is asked first, on a page of its own.
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Phê duyệt kết quả');
  await staffScreen(page, 'approve: confirmation');
  await page.getByRole('button', { name: 'Phê duyệt', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Đã phê duyệt');
  await staffScreen(page, 'approved');
  await page.getByLabel('Công bố không thể thu hồi', { exact: false }).check();
  // The demo wave is still collecting: publishing it now is acknowledged, and said.
  await page.getByLabel('Tôi vẫn công bố khi đợt chưa đóng', { exact: false }).check();
  await page.getByRole('button', { name: 'Công bố', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Đã công bố');
  await expect(page.getByRole('link', { name: 'SIPAS 2026 v1' })).toBeVisible();
  await staffScreen(page, 'published');
  await page.goto(`/staff/waves/${WAVE}/results`);
  await staffScreen(page, 'results after publishing');

  const csv = await page.request.get('/du-lieu/2026/latest/results.csv');
  expect(csv.status()).toBe(200);
  const bytes = await csv.body();
  expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
  const lines = bytes.toString('utf8').slice(1).trim().split('\n');
  expect(lines[0].startsWith('domain,subgroup,node,n,df,estimate,se,ci_low,ci_high')).toBe(true);
  const national = lines.find((l) => l.startsWith('national,,sipas,'));
  expect(national).toBeTruthy();
  const readme = await page.request.get('/du-lieu/2026/v1/README.txt');
  expect(await readme.text()).toContain('sipas verify FOLDER --previous PREVIOUS.csv');
  // No per-commune totals in public.
  expect((await page.request.get('/du-lieu/2026/v1/totals.json')).status()).toBe(404);

  // Download through the release page, as a journalist would, and verify: every published
  // number is recomputed from the public files (and 2025's table, which the README names).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sipas-release-'));
  // The public site re-reads the list of releases every 10 s.
  await expect(async () => {
    expect((await page.goto('/ket-qua/2026'))?.status()).toBe(200);
  }).toPass({ timeout: 30_000 });
  for (const name of [
    'Bảng kết quả (CSV cho máy đọc, tên cột tiếng Anh)',
    'Số liệu tổng hợp theo tỉnh để kiểm tra (không có số liệu theo xã hay theo người)',
    'Phương pháp đã dùng',
  ]) {
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name, exact: true }).click(),
    ]);
    await download.saveAs(path.join(dir, download.suggestedFilename()));
  }
  expect(fs.readdirSync(dir).sort()).toEqual([
    'sipas-2026-v1-aggregates.csv',
    'sipas-2026-v1-methodology.toml',
    'sipas-2026-v1-results.csv',
  ]);
  // The page's SHA-256 are those of the files downloaded.
  const sums = (await page.getByTestId('checksums').textContent()) ?? '';
  for (const file of ['results.csv', 'aggregates.csv']) {
    const hash = createHash('sha256').update(fs.readFileSync(path.join(dir, `sipas-2026-v1-${file}`))).digest('hex');
    expect(sums).toContain(hash);
  }
  const previous = (await readme.text()).match(/PREVIOUS\.csv is its\s+(\/du-lieu\/\S+?\.csv)/)?.[1] ?? '';
  expect(previous).toBe('/du-lieu/2025/v1/results.csv');
  fs.writeFileSync(path.join(dir, 'previous.csv'), await (await page.request.get(previous)).body());
  const verified = execFileSync(
    process.env.SIPAS_E2E_BIN ?? '',
    ['verify', dir, '--previous', path.join(dir, 'previous.csv')],
    { env: { ...process.env, RUST_LOG: 'warn' } },
  ).toString();
  expect(verified).toContain('Every published number was reproduced.');

  // The full totals (accredited access): the statistician downloads them from the staff
  // workspace; `sipas compute` gives every number unrounded, of which the published ones are
  // the rounding, and the rows by subgroup, which are not published.
  const statistician = await staffPage(browser);
  await signIn(statistician, 'thong.ke', STATISTICIAN_PASSWORD);
  await statistician.goto(`/staff/waves/${WAVE}/results`);
  await expect(statistician.getByRole('link', { name: 'Tổng số liệu đầy đủ (nội bộ)' }).first()).toBeVisible();
  const full = await statistician.request.get('/staff/releases/2026/v1/totals.json');
  expect(full.status()).toBe(200);
  fs.writeFileSync(path.join(dir, 'totals.json'), await full.body());
  // The approver may not.
  expect((await page.request.get('/staff/releases/2026/v1/totals.json')).status()).toBe(403);
  execFileSync(
    process.env.SIPAS_E2E_BIN ?? '',
    [
      'compute',
      '--totals', path.join(dir, 'totals.json'),
      '--methodology', path.join(dir, 'sipas-2026-v1-methodology.toml'),
      '--out', path.join(dir, 'check.csv'),
    ],
    { env: { ...process.env, RUST_LOG: 'warn' } },
  );
  const all = fs.readFileSync(path.join(dir, 'check.csv'), 'utf8').trim().split('\n');
  const unrounded = all.filter((line) => line.split(',')[1] === '' && !line.startsWith('domain,'));
  expect(all.length).toBeGreaterThan(unrounded.length + 1);
  const published = lines.slice(1);
  expect(unrounded.length).toBe(published.length);
  const columns = lines[0].split(',');
  const at = columns.indexOf('estimate');
  unrounded.forEach((line, i) => {
    const exact = Number(line.split(',')[at]);
    const shown = Number(published[i].split(',')[at]);
    expect(Math.abs(exact - shown), published[i]).toBeLessThanOrEqual(0.00005 + 1e-12);
  });
  // An accredited researcher: the conditions of use first, then the releases the approval names.
  const admin = await staffPage(browser);
  await signIn(admin, 'admin', ADMIN_PASSWORD);
  await admin.locator('#new-username').fill('nghien.cuu');
  await admin.locator('#new-name').fill('Võ Nghiên Cứu');
  await admin.locator('#new-role').selectOption('researcher');
  await admin.locator('#new-password').fill(RESEARCHER_PASSWORD);
  await admin.locator('#new-project').fill('Sự hài lòng ở vùng núi phía Bắc');
  await admin.locator('#new-approval').fill('45/QĐ-BNV');
  await admin.locator('#new-expires').fill('2099-12-31');
  await admin.locator('#new-releases').fill('2026 v1');
  await admin.getByRole('button', { name: 'Thêm', exact: true }).click();
  await expect(admin.getByRole('cell', { name: 'nghien.cuu', exact: true })).toBeVisible();
  const researcher = await staffPage(browser);
  await signIn(researcher, 'nghien.cuu', RESEARCHER_PASSWORD);
  await researcher.goto('/staff/conditions');
  await staffScreen(researcher, 'conditions of use');
  await researcher.getByRole('button', { name: 'Tôi đã đọc và chấp nhận các điều kiện trên' }).click();
  await researcher.goto('/staff');
  await expect(researcher.getByText('31/12/2099')).toBeVisible();
  await staffScreen(researcher, 'researcher');

  // The comparison with 2025 is published.
  const nationalRow = lines.find((l) => l.startsWith('national,,sipas,'))?.split(',') ?? [];
  expect(nationalRow[columns.indexOf('change_p')]).toMatch(/^[0-9.e-]+$/);
});

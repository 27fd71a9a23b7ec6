import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import {
  NEXT,
  SUBMIT,
  answerScreen,
  answerUntilLastScreen,
  hydrated,
  storedResponses,
  takeCode,
  type ResponseRow,
  watchConsole,
} from './survey-helpers';

// The citizen's side on a 360x740 phone: the questionnaire with a printed code, with JavaScript
// on and off, online and offline. Every test checks how many responses the database holds.
test.describe.configure({ timeout: 120_000 });

async function noAccessibilityViolations(page: Page, screen: string) {
  const results = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
    .analyze();
  const found = results.violations.map(
    (v) => `${screen}: ${v.id} (${v.impact}) ${v.nodes.map((n) => n.target.join(' ')).join('; ')}`,
  );
  expect(found).toEqual([]);
}

/** The one response stored since `before` (the export carries a random row id, never the
 * receipt number: the new row is the one whose id was not there before). */
function expectStored(before: ResponseRow[]) {
  const rows = storedResponses();
  expect(rows.length - before.length).toBe(1);
  const known = new Set(before.map((row) => row.export_id));
  const mine = rows.filter((row) => !known.has(row.export_id));
  expect(mine).toHaveLength(1);
  // The code's sample point, never asked of the respondent.
  expect([mine[0].province, mine[0].stratum, mine[0].psu, mine[0].sample]).toEqual([
    '79',
    '79-thanh-thi',
    '26767',
    'probability',
  ]);
  return mine[0];
}

test('complete the questionnaire with a code: relevance, inline validation, no WCAG violations', async ({
  page,
}) => {
  const errors = watchConsole(page);
  const before = storedResponses();
  const code = takeCode();
  await page.goto(`/s/${code}`);
  await hydrated(page);
  await expect(page.locator('html')).toHaveAttribute('lang', 'vi');
  await expect(page.locator('#progress-label')).toContainText('Phần 1 /');

  // Inline validation: nothing answered, "next" stays and says what is missing, beside it.
  await page.getByRole('button', { name: NEXT }).click();
  await expect(page.locator('#err-used_service')).toHaveText('Vui lòng chọn một câu trả lời.');
  await expect(page.locator('#item-used_service')).toHaveAttribute('aria-invalid', 'true');
  await noAccessibilityViolations(page, 'first screen with an error');

  // Relevance: "how did you apply" appears only for someone who used a service.
  const used = page.locator('#item-used_service');
  const channel = page.locator('#item-channel_used');
  await used.getByText('Không', { exact: true }).click();
  await expect(channel).toBeHidden();
  await expect(page.locator('#err-used_service')).toHaveCount(0);
  await used.getByText('Có', { exact: true }).click();
  await expect(channel).toBeVisible();
  await expect(page.locator('.only-if')).toBeHidden(); // the no-JS note is not needed live

  // Feedback items appear only after "yes, I gave feedback" on the same screen.
  let sawFeedbackRule = false;
  await answerUntilLastScreen(page, async () => {
    await noAccessibilityViolations(page, (await page.locator('#section-heading').textContent()) ?? '');
    if (await page.locator('#item-gave_feedback').isVisible()) {
      await page.locator('#item-gave_feedback').getByText('Không', { exact: true }).click();
      await expect(page.locator('#item-fb_1')).toBeHidden();
      await page.locator('#item-gave_feedback').getByText('Có', { exact: true }).click();
      await expect(page.locator('#item-fb_1')).toBeVisible();
      await answerScreen(page);
      sawFeedbackRule = true;
    }
  });
  expect(sawFeedbackRule).toBe(true);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);

  await page.getByRole('button', { name: SUBMIT }).click();
  await expect(page).toHaveURL(/\/receipt\//);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Cảm ơn bạn!');
  await noAccessibilityViolations(page, 'receipt');
  const row = expectStored(before);
  expect(row.used_service).toBe('1');
  expect(row.fb_1).not.toBe('');
  expect(row.language).toBe('vi');

  // The code is spent: a clear message, never a second questionnaire.
  await page.goto(`/s/${code}`);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Mã này đã được sử dụng');
  await expect(page.locator('form.survey-form')).toHaveCount(0);
  await noAccessibilityViolations(page, 'used code');
  expect(storedResponses().length - before.length).toBe(1);
  expect(errors).toEqual([]);
});

test('answers survive a reload and the respondent resumes where they were', async ({ page }) => {
  const errors = watchConsole(page);
  const code = takeCode();
  await page.goto(`/s/${code}`);
  await hydrated(page);
  // The quality review's device cookie: random, out of reach of the page's scripts.
  const device = async () =>
    (await page.context().cookies()).find((c) => c.name === 'sipas_device');
  const first = await device();
  expect(first?.value).toMatch(/^[0-9a-f]{32}$/);
  expect(first?.httpOnly).toBe(true);
  expect(first?.sameSite).toBe('Lax');
  await answerScreen(page);
  await page.getByRole('button', { name: NEXT }).click();
  await expect(page.locator('#progress-label')).toContainText('Phần 2 /');
  const heading = await page.locator('#section-heading').textContent();
  // One answer on the second screen, then the tab is reloaded (or closed and opened again).
  await page.locator('fieldset.item:visible label.choice').nth(3).click();
  await page.reload();
  await hydrated(page);
  await expect(page.locator('#section-heading')).toHaveText(heading ?? '');
  await expect(page.locator('fieldset.item:visible input:checked')).toHaveCount(1);
  await page.getByRole('button', { name: 'Quay lại' }).click();
  await expect(page.locator('#item-used_service input[value="1"]')).toBeChecked();
  expect((await device())?.value, 'one browser keeps one id').toBe(first?.value);
  expect(errors).toEqual([]);
});

test('offline at submit: kept on the phone, sent when the connection returns', async ({ page, context }) => {
  const errors = watchConsole(page, [/ERR_INTERNET_DISCONNECTED|Failed to load resource|Failed to fetch/]);
  const before = storedResponses();
  const code = takeCode();
  await page.goto(`/s/${code}`);
  await hydrated(page);
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
  await answerUntilLastScreen(page);

  await context.setOffline(true);
  await page.getByRole('button', { name: SUBMIT }).click();
  await expect(page.locator('[data-state="queued"]')).toContainText('Đã lưu trên điện thoại này');
  expect(storedResponses().length - before.length).toBe(0);

  // Still offline, the page can be reloaded: the service worker has it, the outbox keeps it.
  await page.reload();
  await hydrated(page);
  await expect(page.locator('[data-state="queued"]')).toBeVisible();

  await context.setOffline(false);
  await expect(page).toHaveURL(/\/receipt\//, { timeout: 20_000 });
  expectStored(before);
  expect(errors).toEqual([]);
});

test('a stale offline copy of the page never takes newer answers back', async ({
  page,
  context,
  browser,
}) => {
  const errors = watchConsole(page, [/ERR_INTERNET_DISCONNECTED|Failed to load resource|Failed to fetch/]);
  const code = takeCode();
  await page.goto(`/s/${code}`);
  await hydrated(page);
  // The worker keeps a copy of this page as it is now: no answers yet.
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
  const heading = () => page.locator('#section-heading').textContent();
  const first = await heading();
  await answerScreen(page);
  await page.getByRole('button', { name: NEXT }).click();
  await expect(page.locator('#section-heading')).not.toHaveText(first ?? '');
  const second = await heading();

  // Offline, the reload gets the worker's stale copy (first screen, no answers): the newer
  // answers on the phone win.
  await context.setOffline(true);
  await page.reload();
  await hydrated(page);
  await expect(page.locator('#section-heading')).toHaveText(second ?? '');
  // More answers, still offline.
  await answerScreen(page);
  await page.getByRole('button', { name: NEXT }).click();
  await expect(page.locator('#section-heading')).not.toHaveText(second ?? '');
  const third = await heading();

  // Online again: the server's draft (second screen) is older than the phone's; the phone's
  // answers are shown and sent to the server.
  await context.setOffline(false);
  await page.reload();
  await hydrated(page);
  await expect(page.locator('#section-heading')).toHaveText(third ?? '');
  await page.getByRole('button', { name: 'Quay lại' }).click();
  await expect(page.locator('#section-heading')).toHaveText(second ?? '');
  await expect(page.locator('fieldset.item:visible:not(:has(input:checked))')).toHaveCount(0);

  // What the server keeps, seen from a browser that never saw this code (no phone draft): the
  // screen the respondent is on now (they went back to the second) with the answers given to
  // it while offline, which only the phone had.
  const origin = new URL(page.url()).origin;
  const elsewhere = await browser.newContext({ viewport: { width: 360, height: 740 } });
  const other = await elsewhere.newPage();
  await expect(async () => {
    await other.goto(`${origin}/s/${code}`);
    await expect(other.locator('#section-heading')).toHaveText(second ?? '', { timeout: 1_000 });
    await expect(other.locator('fieldset.item:visible:not(:has(input:checked))')).toHaveCount(0, {
      timeout: 1_000,
    });
  }).toPass({ timeout: 20_000 });
  await hydrated(other);
  await expect(other.locator('fieldset.item:visible:not(:has(input:checked))')).toHaveCount(0);
  await elsewhere.close();
  expect(errors).toEqual([]);
});

test('offline at submit, tab closed: sent on the next visit', async ({ page, context }) => {
  watchConsole(page);
  const before = storedResponses();
  const code = takeCode();
  await page.goto(`/s/${code}`);
  await hydrated(page);
  await answerUntilLastScreen(page);
  await context.setOffline(true);
  await page.getByRole('button', { name: SUBMIT }).click();
  await expect(page.locator('[data-state="queued"]')).toBeVisible();
  await page.close();

  await context.setOffline(false);
  const later = await context.newPage();
  await later.goto('/khao-sat');
  await hydrated(later);
  await expect(async () => {
    expect(storedResponses().length - before.length).toBe(1);
  }).toPass({ timeout: 20_000 });
  await later.goto(`/s/${code}`);
  await expect(later.getByRole('heading', { level: 1 })).toHaveText('Mã này đã được sử dụng');
});

test('a double tap on submit stores one response and shows one receipt', async ({ page }) => {
  const errors = watchConsole(page);
  const before = storedResponses();
  const code = takeCode();
  await page.goto(`/s/${code}`);
  await hydrated(page);
  await answerUntilLastScreen(page);
  await page.getByRole('button', { name: SUBMIT }).dblclick();
  await expect(page).toHaveURL(/\/receipt\//);
  expectStored(before);

  await page.goto(`/s/${code}`);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Mã này đã được sử dụng');
  expect(storedResponses().length - before.length).toBe(1);
  expect(errors).toEqual([]);
});

test.describe('with JavaScript disabled', () => {
  test.use({ javaScriptEnabled: false });

  test('the whole questionnaire can be completed and submitted', async ({ page }) => {
    const before = storedResponses();
    const code = takeCode();
    await page.goto(`/s/${code}`);
    // Server-side validation, the message beside the field.
    await page.getByRole('button', { name: NEXT }).click();
    await expect(page).toHaveURL(/check=1/);
    await expect(page.locator('#err-used_service')).toHaveText('Vui lòng chọn một câu trả lời.');
    // The same-screen follow-up is on the page with a note saying when to answer it.
    await expect(page.locator('#item-channel_used .only-if')).toBeVisible();
    await answerUntilLastScreen(page);
    const last = page.getByRole('button', { name: SUBMIT });
    await last.click();
    await expect(page).toHaveURL(/\/receipt\//);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Cảm ơn bạn!');
    expectStored(before);

    // Going back and posting the final screen again (a resubmitted form) gives the same receipt.
    const receipt = page.url();
    await page.goBack();
    await page.getByRole('button', { name: SUBMIT }).click();
    await expect(page).toHaveURL(receipt);
    expect(storedResponses().length - before.length).toBe(1);
  });

  test('a typed code with dashes and lower case opens the questionnaire', async ({ page }) => {
    const code = takeCode();
    await page.goto('/s');
    const typed = `${code.slice(0, 4)}-${code.slice(4, 8)}-${code.slice(8)}`.toLowerCase();
    await page.getByLabel('Mã trên phiếu mời').fill(typed);
    await page.getByRole('button', { name: 'Bắt đầu' }).click();
    await expect(page).toHaveURL(`/s/${code}`);
    await expect(page.locator('#item-used_service')).toBeVisible();
  });
});

test('budgets: first screen from HTML and CSS under 60 KB, wasm under 300 KB, as transferred', async ({
  page,
}) => {
  const code = takeCode();
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const kinds = new Map<string, string>();
  const bytes = new Map<string, number>();
  cdp.on('Network.responseReceived', (e) => kinds.set(e.requestId, `${e.type} ${e.response.url}`));
  cdp.on('Network.loadingFinished', (e) => bytes.set(e.requestId, e.encodedDataLength));
  await page.goto(`/s/${code}`);
  await hydrated(page);
  await page.waitForLoadState('networkidle');
  let firstScreen = 0;
  let wasm = 0;
  for (const [id, kind] of kinds) {
    const size = bytes.get(id) ?? 0;
    if (kind.startsWith('Document') || kind.startsWith('Stylesheet')) firstScreen += size;
    if (kind.includes('.wasm')) wasm += size;
  }
  console.log(`first screen (HTML + CSS): ${firstScreen} B; wasm: ${wasm} B`);
  expect(firstScreen).toBeGreaterThan(1_000);
  expect(firstScreen).toBeLessThanOrEqual(60 * 1024);
  expect(wasm).toBeGreaterThan(50_000);
  expect(wasm).toBeLessThanOrEqual(300 * 1024);
});

test('the survey speaks English too', async ({ page }) => {
  const code = takeCode();
  await page.goto(`/s/${code}`);
  await hydrated(page);
  await page.getByRole('link', { name: 'English' }).click();
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  await expect(page.getByRole('button', { name: 'Next' })).toBeVisible();
  await expect(page.locator('#item-used_service legend')).toContainText('In the past 12 months');
});

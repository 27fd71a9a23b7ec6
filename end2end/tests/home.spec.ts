import { expect, test, type Page } from '@playwright/test';

// Every test fails if the browser console reports an error (hydration mismatches included).
function watchConsole(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') {
      errors.push(`${msg.type()}: ${msg.text()} (${msg.location().url})`);
    }
  });
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  return errors;
}

async function hydrated(page: Page) {
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
}

test('the citizens\' entry says what the survey is and fits a 360 px screen', async ({ page }) => {
  const errors = watchConsole(page);
  const response = await page.goto('/khao-sat');
  expect(response?.status()).toBe(200);
  await expect(page.locator('html')).toHaveAttribute('lang', 'vi');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Khảo sát mức độ hài lòng của người dân');
  // How long it takes, how answers are protected, how to start with or without a code.
  await expect(page.getByText('Mất khoảng 15 phút', { exact: false })).toBeVisible();
  await expect(page.getByText('không lưu địa chỉ IP', { exact: false })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Bắt đầu với mã trên phiếu mời' })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Nếu bạn không có mã' })).toBeVisible();
  await expect(page.getByRole('textbox', { name: 'Mã trên phiếu mời' })).toBeVisible();
  await expect(page.locator('table')).toHaveCount(0);
  await hydrated(page);
  // Against the device width: a mobile browser widens its layout viewport to fit overflow.
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  expect(width).toBeLessThanOrEqual(page.viewportSize()?.width ?? 0);
  expect(errors).toEqual([]);
});

test('hydration canary: the code is checked while typing', async ({ page }) => {
  const errors = watchConsole(page);
  await page.goto('/khao-sat');
  await hydrated(page);
  const code = page.getByRole('textbox', { name: 'Mã trên phiếu mời' });
  await code.pressSequentially('7KQM-9T2X');
  // No submit: only the hydrated page can do this.
  await expect(page.getByTestId('code-check')).toHaveText('Mã có 17 ký tự (không kể dấu gạch ngang).');
  // 17 symbols whose last one does not match: a typing mistake, caught before sending.
  await code.fill('');
  await code.pressSequentially('0000-0000-0000-0000-5');
  await expect(page.getByTestId('code-check')).toHaveText('Mã có ký tự gõ sai: hãy so lại với phiếu mời.');
  await code.fill('');
  await code.pressSequentially('0000-0000-0000-0000-0');
  await expect(page.getByTestId('code-check')).toHaveText('Mã đúng dạng. Bấm Bắt đầu.');
  expect(page.url()).toMatch(/\/khao-sat$/);
  expect(errors).toEqual([]);
});

test('language switch to English and back, remembered across pages', async ({ page }) => {
  const errors = watchConsole(page);
  await page.goto('/khao-sat');
  await page.getByRole('link', { name: 'English' }).click();
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Citizen satisfaction survey');
  await page.reload();
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  await hydrated(page);
  await page.getByRole('link', { name: 'Tiếng Việt' }).click();
  await expect(page.locator('html')).toHaveAttribute('lang', 'vi');
  expect(errors).toEqual([]);
});

test('unknown pages answer 404 with a way home', async ({ page }) => {
  const response = await page.goto('/khong-co-trang-nay');
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('link', { name: 'Về trang chủ' })).toBeVisible();
});

test('security headers are sent', async ({ request }) => {
  const response = await request.get('/khao-sat');
  const headers = response.headers();
  expect(headers['content-security-policy']).toContain("frame-ancestors 'none'");
  expect(headers['content-security-policy']).toMatch(/'nonce-[A-Za-z0-9_-]+'/);
  expect(headers['x-content-type-options']).toBe('nosniff');
  expect(headers['referrer-policy']).toBe('strict-origin-when-cross-origin');
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('the code form works as a plain form and the language link as a plain link', async ({ page }) => {
    await page.goto('/khao-sat');
    await page.getByRole('textbox', { name: 'Mã trên phiếu mời' }).fill('0000-0000-0000-0000-0');
    await page.getByRole('button', { name: 'Bắt đầu' }).click();
    // A well-formed code nobody was given: the survey says so, without JavaScript.
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Không tìm thấy mã này');
    await page.goto('/khao-sat');
    await page.getByRole('link', { name: 'English' }).click();
    await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  });
});

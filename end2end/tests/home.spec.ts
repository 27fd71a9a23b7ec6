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

test('home page lists the 34 provinces in Vietnamese and fits a 360 px screen', async ({ page }) => {
  const errors = watchConsole(page);
  const response = await page.goto('/khao-sat');
  expect(response?.status()).toBe(200);
  await expect(page.locator('html')).toHaveAttribute('lang', 'vi');
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Chỉ số hài lòng');
  await expect(page.locator('table.provinces tbody tr')).toHaveCount(34);
  await expect(page.getByRole('cell', { name: 'Hà Nội', exact: true })).toBeVisible();
  await expect(page.getByRole('cell', { name: 'Hồ Chí Minh', exact: true })).toBeVisible();
  await hydrated(page);
  // Against the device width: a mobile browser widens its layout viewport to fit overflow.
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  expect(width).toBeLessThanOrEqual(page.viewportSize()?.width ?? 0);
  expect(errors).toEqual([]);
});

test('hydration canary: the filter narrows the list while typing', async ({ page }) => {
  const errors = watchConsole(page);
  await page.goto('/khao-sat');
  await hydrated(page);
  await page.getByLabel('Tìm tỉnh, thành phố').pressSequentially('ha noi');
  // No submit: only the hydrated page can do this.
  await expect(page.locator('table.provinces tbody tr')).toHaveCount(1);
  await expect(page.getByTestId('province-count')).toContainText('1');
  expect(page.url()).not.toContain('q=');
  expect(errors).toEqual([]);
});

test('language switch to English and back, remembered across pages', async ({ page }) => {
  const errors = watchConsole(page);
  await page.goto('/khao-sat');
  await page.getByRole('link', { name: 'English' }).click();
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(
    'Citizen satisfaction with public administrative services',
  );
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

  test('the filter works as a plain form and the language link as a plain link', async ({ page }) => {
    await page.goto('/khao-sat');
    await expect(page.locator('table.provinces tbody tr')).toHaveCount(34);
    await page.getByLabel('Tìm tỉnh, thành phố').fill('đà nẵng');
    await page.getByRole('button', { name: 'Tìm' }).click();
    await expect(page).toHaveURL(/\?q=/);
    await expect(page.locator('table.provinces tbody tr')).toHaveCount(1);
    await expect(page.getByRole('cell', { name: 'Đà Nẵng', exact: true })).toBeVisible();
    await page.getByRole('link', { name: 'English' }).click();
    await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  });
});

import AxeBuilder from '@axe-core/playwright';
import { expect, type Browser, type Page } from '@playwright/test';

// What the staff walk-throughs share: a laptop, the accessibility check, signing in.
export const laptop = { viewport: { width: 1280, height: 800 }, isMobile: false, hasTouch: false, deviceScaleFactor: 1 };

export async function accessible(page: Page, screen: string) {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const found = results.violations.map(
    (v) => `${screen}: ${v.id} (${v.impact}) ${v.nodes.map((n) => n.target.join(' ')).join('; ')}`,
  );
  expect(found).toEqual([]);
}

export async function staffPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext(laptop);
  const page = await context.newPage();
  // No staff page loads the citizen's wasm (nor any other).
  page.on('request', (request) => {
    if (request.url().endsWith('.wasm')) throw new Error(`a staff page loaded wasm: ${request.url()}`);
  });
  return page;
}

export async function signIn(page: Page, username: string, password: string) {
  await page.goto('/staff');
  await expect(page).toHaveURL(/\/staff\/login/);
  await page.getByLabel('Tên đăng nhập').fill(username);
  await page.getByLabel('Mật khẩu').fill(password);
  await page.getByRole('button', { name: 'Đăng nhập' }).click();
}


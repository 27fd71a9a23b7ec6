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


/** How many invitation cards on the page show their code clipped or running out of the card. */
export async function clippedCodes(page: Page): Promise<string[]> {
  return page.locator('article.card').evaluateAll((cards) =>
    cards.flatMap((card) => {
      const code = card.querySelector('.code') as HTMLElement | null;
      if (!code) return ['a card without a code'];
      const c = code.getBoundingClientRect();
      const k = card.getBoundingClientRect();
      const clipped = code.scrollWidth > code.clientWidth + 1 || c.right > k.right + 0.5 || c.left < k.left - 0.5;
      return clipped ? [`${code.textContent} (${Math.round(c.width)} px in a ${Math.round(k.width)} px card)`] : [];
    }),
  );
}

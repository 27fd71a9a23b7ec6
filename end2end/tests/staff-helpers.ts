import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Browser, type Page } from '@playwright/test';

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

/**
 * What must not reach a staff page read in Vietnamese: common English words (the catalogue's
 * other side leaking), internal identifiers, and raw UTC timestamps. Data the page quotes as
 * data (code, a methodology file, the English language link) is not read.
 */
const NOT_VIETNAMESE: RegExp[] = [
  /\b(the|and|of|is|are|was|were|be|been|has|have|with|from|for|by|or|not|yet|only|each|this|that|must|cannot|people)\b/i,
  /\b(data|demonstration)\b/i,
  /\b(low_precision|not_distinguishable|no_data|suppressed|national_mean)\b/,
  /\b(above|below)\b/,
  /\bpaper forms without a code\b/,
  /\b(province|stratum|psu) \S/,
  /\b(online|offline|min)\b/i,
  // Dates and times are written the Vietnamese way (07/12/2026 09:05), never ISO or UTC.
  /\b\d{4}-\d{2}-\d{2}\b/,
];

export async function englishOnStaffPage(page: Page): Promise<string[]> {
  const texts = await page.evaluate(() => {
    const skip = 'textarea, pre, code, script, style, [lang="en"], .qr';
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const found: string[] = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.textContent?.trim() ?? '';
      if (text && !node.parentElement?.closest(skip)) found.push(text);
    }
    return found;
  });
  return texts.filter((text) => NOT_VIETNAMESE.some((pattern) => pattern.test(text)));
}

/**
 * A staff screen as an official meets it: axe clean (WCAG 2.1 AA), no English or internal code
 * in its Vietnamese text, and a screenshot at 1280×800 and 768×1024 kept with the test's output
 * for review.
 */
export async function staffScreen(page: Page, screen: string) {
  await accessible(page, screen);
  expect(await englishOnStaffPage(page), `${screen}: English or internal codes`).toEqual([]);
  const size = page.viewportSize();
  const name = screen.replace(/[^a-z0-9]+/gi, '-');
  for (const [width, height] of [
    [1280, 800],
    [768, 1024],
  ]) {
    await page.setViewportSize({ width, height });
    await page.screenshot({ path: test.info().outputPath(`${name}-${width}x${height}.png`), fullPage: true });
  }
  if (size) await page.setViewportSize(size);
}

import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { expect, type Page } from '@playwright/test';

const dir = process.env.SIPAS_E2E_DIR ?? '';

/** Claims an unused printed code (atomically, so no two tests ever share one). */
export function takeCode(): string {
  const lines = fs.readFileSync(path.join(dir, 'codes.csv'), 'utf8').trim().split('\n').slice(1);
  for (const [index, line] of lines.entries()) {
    try {
      fs.writeFileSync(path.join(dir, `claimed-${index}`), '', { flag: 'wx' });
      // The link column holds the canonical code: .../s/CODE
      return line.split(',')[1].split('/s/')[1];
    } catch {
      // claimed by an earlier test
    }
  }
  throw new Error('no unused invitation code left');
}

export interface ResponseRow {
  [column: string]: string;
}

/** The stored responses of the demo wave, read back through `sipas export`. */
export function storedResponses(): ResponseRow[] {
  const out = path.join(dir, `export-${Date.now()}.csv`);
  execFileSync(process.env.SIPAS_E2E_BIN ?? '', ['export', '--wave', 'sipas-2026-demo', '--out', out], {
    env: { ...process.env, DATABASE_URL: process.env.SIPAS_E2E_DATABASE_URL, RUST_LOG: 'warn' },
  });
  // The export is the staff export's: UTF-8 with a byte-order mark, a random export_id per row.
  const [header, ...rows] = fs.readFileSync(out, 'utf8').replace(/^\uFEFF/, '').trim().split('\n');
  const columns = header.split(',');
  return rows.map((row) => Object.fromEntries(row.split(',').map((v, i) => [columns[i], v])));
}

export function watchConsole(page: Page, allow: RegExp[] = []): string[] {
  const errors: string[] = [];
  page.on('console', (msg) => {
    const text = `${msg.type()}: ${msg.text()} (${msg.location().url})`;
    if ((msg.type() === 'error' || msg.type() === 'warning') && !allow.some((a) => a.test(text))) {
      errors.push(text);
    }
  });
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  return errors;
}

export async function hydrated(page: Page) {
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
}

/** Answers every visible, unanswered question of the screen with its first choice. */
export async function answerScreen(page: Page) {
  for (let guard = 0; guard < 40; guard++) {
    const open = page.locator('fieldset.item:visible:not(:has(input:checked))');
    if ((await open.count()) === 0) return;
    await open.first().locator('label.choice').first().click();
  }
  throw new Error('questions keep appearing');
}

export const NEXT = 'Tiếp tục';
export const SUBMIT = 'Gửi phiếu';

/** Answers screens until the one with the submit button (returns on that screen, answered). */
export async function answerUntilLastScreen(page: Page, onScreen?: () => Promise<void>) {
  for (let screen = 0; screen < 30; screen++) {
    await answerScreen(page);
    if (onScreen) await onScreen();
    const submit = page.getByRole('button', { name: SUBMIT });
    if (await submit.isVisible()) return;
    const heading = await page.locator('#section-heading').textContent();
    await page.getByRole('button', { name: NEXT }).click();
    await expect(page.locator('#section-heading')).not.toHaveText(heading ?? '');
  }
  throw new Error('never reached the last screen');
}

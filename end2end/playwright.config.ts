import { defineConfig } from '@playwright/test';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

// The release build, started by Playwright and awaited through the health endpoint, on a fresh
// SQLite database with demo data.
const port = Number(process.env.E2E_PORT ?? 3100);
const root = path.resolve(__dirname, '..');
const bin = process.env.SIPAS_BIN ?? path.join(root, 'target', 'release', 'sipas');
// One folder per run, shared with the test workers through the environment (workers load this
// file again): the database, and the invitation codes the server issues before it starts.
const dbDir = (process.env.SIPAS_E2E_DIR ??= fs.mkdtempSync(path.join(os.tmpdir(), 'sipas-e2e-')));
process.env.SIPAS_E2E_DATABASE_URL = `sqlite://${path.join(dbDir, 'e2e.db')}`;
process.env.SIPAS_E2E_BIN = bin;
const codes = path.join(dbDir, 'codes.csv');
// The first administrator, made by `sipas admin create` before the server starts (there is no
// default account); the staff walk-through signs in with it.
const adminPassword = (process.env.SIPAS_E2E_ADMIN_PASSWORD ??= 'e2e admin password 2026');

export default defineConfig({
  testDir: './tests',
  globalTeardown: './global-teardown.ts',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    browserName: 'chromium',
    viewport: { width: 360, height: 740 },
    isMobile: true,
    hasTouch: true,
    deviceScaleFactor: 2,
    locale: 'vi-VN',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  projects: [{ name: 'phone-360x740' }],
  webServer: {
    // Demo data, the first administrator, then 60 printed codes for one sample point (Phường An Phú Đông, 26767, of Hồ Chí Minh City), then serve.
    command:
      `"${bin}" demo && printf '%s\\n' '${adminPassword}' | "${bin}" admin create --username admin ` +
      `--name 'Quản trị viên' && "${bin}" codes --wave sipas-2026-demo --psu 26767 ` +
      ` --count 60 --base-url http://127.0.0.1:${port} --out "${codes}" && ` +
      `exec "${bin}" serve`,
    cwd: root,
    url: `http://127.0.0.1:${port}/healthz`,
    reuseExistingServer: false,
    // `sipas demo` computes and publishes four releases on a fresh database first.
    timeout: 180_000,
    stdout: 'pipe',
    stderr: 'pipe',
    env: {
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LEPTOS_SITE_ROOT: process.env.LEPTOS_SITE_ROOT ?? path.join(root, 'target', 'site'),
      LEPTOS_SITE_PKG_DIR: 'pkg',
      LEPTOS_OUTPUT_NAME: 'sipas',
      LEPTOS_ENV: 'PROD',
      DATABASE_URL: process.env.SIPAS_E2E_DATABASE_URL,
      RUST_LOG: 'warn',
      // Every test comes from one address; the per-client limits have their own tests
      // (server/tests/it/abuse.rs) and would only make this suite depend on its own speed.
      SIPAS_LIMIT_CODE_PAGES_PER_MINUTE: '0',
      SIPAS_LIMIT_SUBMISSIONS_PER_MINUTE: '0',
      SIPAS_LIMIT_OPEN_LINK_PER_MINUTE: '0',
    },
  },
});

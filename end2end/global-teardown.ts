import * as fs from 'fs';
import * as path from 'path';
import * as os from 'os';

// The run's folder (database, codes) is removed when the run ends: each holds a demo database
// of about 700 MB, and a machine that keeps them fills its disk within weeks.
export default async function globalTeardown(): Promise<void> {
  const dir = process.env.SIPAS_E2E_DIR;
  if (dir && path.dirname(dir) === os.tmpdir() && path.basename(dir).startsWith('sipas-e2e-')) {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

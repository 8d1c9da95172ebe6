// A seeded bug for the soak to catch: the built function (dist/) with one `test` operation taken
// out of its status patch, the one that proves the status it decided on. Two deliveries that
// begin the same phase at once then both land, and the phase is appended twice. Made from the
// very bundle the test bed runs, so nothing else differs; the kubelet runs it for SEEDED_IMAGE.
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cacheDir, repoRoot } from '../support/repo.js';
import { FUNCTION_IMAGE } from './function.js';

export const SEEDED_IMAGE = `${FUNCTION_IMAGE}:seeded-no-status-test`;
/** What the kubelet runs for SEEDED_IMAGE, once seedBug has written it. */
export const seededEntry = join(cacheDir, 'seeded', 'index.js');

/** In the minified bundle: `<proof>.push({op:"test",path:"/status",value:<status>})`. */
const STATUS_TEST = /[\w$]+\.push\(\{op:"test",path:"\/status",value:[\w$]+\}\)/g;

/** Writes the seeded copy of dist/ (without its code cache: the bundle differs). */
export async function seedBug(): Promise<void> {
  const bundle = await readFile(join(repoRoot, 'dist', 'main.cjs'), 'utf8');
  const found = bundle.match(STATUS_TEST) ?? [];
  if (found.length !== 1)
    throw new Error(
      `seeding: expected one status test in dist/main.cjs, found ${found.length}; has status-patch.ts changed?`,
    );
  await mkdir(join(cacheDir, 'seeded'), { recursive: true });
  await writeFile(join(cacheDir, 'seeded', 'main.cjs'), bundle.replace(STATUS_TEST, '0'));
  await copyFile(join(repoRoot, 'dist', 'index.js'), seededEntry);
}

// Where the repository and its build cache are, for every part of the harness.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root, with a trailing separator (a file URL decoded, so spaces survive). */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Built binaries and test-bed state: `.cache/`, or ADVANCE_PHASE_CACHE. Ignored by git. */
export const cacheDir = process.env['ADVANCE_PHASE_CACHE'] ?? join(repoRoot, '.cache');

// Every relative link and image in the project's Markdown resolves: the file it names exists, and
// a #fragment names a heading of that file as GitHub anchors it. The README is short and points
// into docs/ and CHANGELOG.md; a page moved or a heading renamed breaks a link here, not for a reader.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/repo.js';

const docs = readdirSync(join(repoRoot, 'docs'))
  .filter((name) => name.endsWith('.md'))
  .sort()
  .map((name) => `docs/${name}`);
const files = ['README.md', 'CHANGELOG.md', ...docs, 'test/stack/README.md', 'bench/RESULTS.md'];

/** The text without fenced code blocks and inline code, where `](` is code, not a link. */
const prose = (markdown: string) => {
  let fenced = false;
  return markdown
    .split('\n')
    .map((line) => {
      if (/^ {0,3}(```|~~~)/.test(line)) {
        fenced = !fenced;
        return '';
      }
      return fenced ? '' : line;
    })
    .join('\n')
    .replace(/`[^`]*`/g, '');
};

/** The anchor GitHub gives a heading: its text lowercased, punctuation other than - and _ dropped, spaces as -. */
const slug = (heading: string) =>
  heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]*>/g, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');

/** Every anchor a Markdown text's headings produce; a repeated heading gets -1, -2, ... as on GitHub. */
const anchorsOf = (markdown: string) => {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const line of prose(markdown).split('\n')) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line);
    if (heading === null) continue;
    const base = slug((heading[1] ?? '').trim());
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
};

/** The targets of inline links and images, `[text](target)` and `![alt](target "title")`, and of reference definitions. */
const targetsOf = (markdown: string) => {
  const text = prose(markdown);
  const inline = [...text.matchAll(/\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/g)].map((match) => match[1] ?? '');
  const references = [...text.matchAll(/^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?/gm)].map((match) => match[1] ?? '');
  return [...inline, ...references];
};

const external = (target: string) => /^(https?:|mailto:)/i.test(target);

/** What is wrong with each relative link of `file` (a path from the repository's root) whose text is `markdown`. */
const brokenLinks = (file: string, markdown: string) => {
  const broken: string[] = [];
  for (const target of targetsOf(markdown).filter((t) => !external(t))) {
    const hash = target.indexOf('#');
    const path = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
    const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
    const resolved =
      path === '' ? join(repoRoot, file) : join(repoRoot, path.startsWith('/') ? '' : dirname(file), path);
    const shown = relative(repoRoot, resolved);
    if (!existsSync(resolved)) {
      broken.push(`${target}: ${shown} does not exist`);
      continue;
    }
    if (anchor === undefined) continue;
    if (!resolved.endsWith('.md')) {
      broken.push(`${target}: ${shown} is not Markdown, so its #${anchor} cannot be checked`);
      continue;
    }
    const text = path === '' ? markdown : readFileSync(resolved, 'utf8');
    if (!anchorsOf(text).has(anchor)) broken.push(`${target}: no heading in ${shown} is anchored #${anchor}`);
  }
  return broken;
};

describe('the slugs GitHub gives headings', () => {
  it('lowercases, drops punctuation but - and _, and turns each space into -', () => {
    expect(slug('Brokers that ignore Retry-After')).toBe('brokers-that-ignore-retry-after');
    expect(slug('Try the function alone (no cluster)')).toBe('try-the-function-alone-no-cluster');
    expect(slug('Lateness per transition (ms): start_k - (start_k-1 + delay)')).toBe(
      'lateness-per-transition-ms-start_k---start_k-1--delay',
    );
    expect(slug('The `Action`, [linked](x.md)')).toBe('the-action-linked');
  });

  it('numbers a repeated heading, and reads no heading inside a code block', () => {
    const text = '# Use\n\n## Use\n\n```sh\n# Use, a shell comment\n```\n\n### Use #\n';
    expect([...anchorsOf(text)]).toEqual(['use', 'use-1', 'use-2']);
  });
});

describe('brokenLinks', () => {
  it('reports a missing file, a missing heading, in this page or another, and nothing else', () => {
    const text = [
      '# Here',
      '[fine](#here) [fine](docs/operations.md) [fine](test/stack/README.md#use) ![fine](bench/plots/lateness-cdf.svg)',
      '[web](https://knative.dev) [mail](mailto:someone@example.com) `[code](nowhere.md)`',
      '```',
      '[code](nowhere.md)',
      '```',
      '[gone](docs/nowhere.md) [gone](#nowhere) [gone](test/stack/README.md#nowhere) [gone](bench/run.ts#L1)',
    ].join('\n');
    expect(brokenLinks('README.md', text)).toEqual([
      'docs/nowhere.md: docs/nowhere.md does not exist',
      '#nowhere: no heading in README.md is anchored #nowhere',
      'test/stack/README.md#nowhere: no heading in test/stack/README.md is anchored #nowhere',
      'bench/run.ts#L1: bench/run.ts is not Markdown, so its #L1 cannot be checked',
    ]);
  });

  it('resolves a link from the folder of the file it is in', () => {
    expect(brokenLinks('docs/x.md', '[up](../README.md#deploy-on-a-cluster) [here](operations.md)')).toEqual([]);
    expect(brokenLinks('docs/x.md', '[wrong](README.md)')).toEqual(['README.md: docs/README.md does not exist']);
  });
});

describe('the Markdown links', () => {
  it.each(files)('every relative link in %s resolves', (file) => {
    expect(brokenLinks(file, readFileSync(join(repoRoot, file), 'utf8'))).toEqual([]);
  });

  it('the README links every page in docs/ and CHANGELOG.md', () => {
    expect(docs.length).toBeGreaterThan(0);
    const linked = new Set(targetsOf(readFileSync(join(repoRoot, 'README.md'), 'utf8')).map((t) => t.split('#')[0]));
    expect([...docs, 'CHANGELOG.md'].filter((page) => !linked.has(page))).toEqual([]);
  });
});

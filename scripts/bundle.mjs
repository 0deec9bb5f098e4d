/**
 * Bundles the `portico` command into one CommonJS file, dist/bin/portico.js, from the
 * TypeScript sources (bin/portico.ts and what it imports; esbuild strips the types as Node
 * does). tsc builds only the library and the bench, so dist/bin holds nothing else.
 *
 * Why one CommonJS file: on Node 20 every ES module costs about half a millisecond to
 * resolve, load and link, and a start spans some twenty of ours and find-my-way's; as one
 * script the command listens ~25 ms sooner (README, "Start-up"). Modules the source reaches
 * only through `import()` stay lazy: esbuild wraps each in an init function that runs on first
 * use. The dependencies other than find-my-way (which every start needs) stay external,
 * loaded when a config first needs them. Whitespace and syntax are minified because reading
 * and parsing the file is itself a measurable part of the start (~5 ms); identifiers are kept.
 * (Full minification, which renames identifiers too, measured no faster.)
 *
 * The library (dist/lib, the package's `exports`) is not bundled.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';

const dir = 'dist/bin';
const banner =
  "'use strict';\nconst __portico_url = require('node:url').pathToFileURL(__filename).href;";

// Left by earlier builds, when tsc compiled bin/ too and the bundle was code-split.
for (const name of existsSync(dir) ? readdirSync(dir) : [])
  if (/^portico(-.+\.js|\.js\.map|\.d\.ts)$/.test(name)) rmSync(join(dir, name));

const { dependencies } = JSON.parse(readFileSync('package.json', 'utf8'));

await build({
  entryPoints: ['bin/portico.ts'],
  outfile: join(dir, 'portico.js'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20.18',
  minifyWhitespace: true,
  minifySyntax: true,
  external: Object.keys(dependencies).filter((name) => name !== 'find-my-way'),
  define: {
    // The code finds files next to itself (package.json, the bin for cluster workers) from
    // import.meta.url; in the bundle that is the bundle's own URL.
    'import.meta.url': '__portico_url',
    // The validated-config cache keys entries by the schema module; the bundle carries the
    // hash of the source it bundles rather than reading a file on every start. (Not tsc's
    // dist/lib/config/schema.js: a bundle rebuilt alone would keep a stale key.)
    PORTICO_SCHEMA_FINGERPRINT: JSON.stringify(
      createHash('sha256').update(readFileSync('lib/config/schema.ts')).digest('hex'),
    ),
  },
  // "use strict" first: the banner would otherwise push esbuild's directive out of place.
  banner: { js: banner },
  plugins: [lazySafeRegex()],
  logLevel: 'warning',
});

// The package is "type": "module"; this folder holds the CommonJS bundle.
writeFileSync(join(dir, 'package.json'), '{ "type": "commonjs" }\n');

/**
 * find-my-way runs safe-regex2 on three of its own constant patterns when it loads, which
 * means evaluating safe-regex2's regex parser (~30 KB) on every start, though Portico never
 * registers a regex route. This wraps safe-regex2 so those three patterns, checked here at
 * build time, answer without it; any other pattern still goes through the real check.
 */
function lazySafeRegex() {
  const router = createRequire(import.meta.url).resolve('find-my-way');
  const isRegexSafe = createRequire(router)('safe-regex2');
  const source = readFileSync(router, 'utf8');
  const known = [];
  for (const name of [
    'OPTIONAL_PARAM_REGEXP',
    'ESCAPE_REGEXP',
    'REMOVE_DUPLICATE_SLASHES_REGEXP',
  ]) {
    const literal = new RegExp(`const ${name} = (/.+/[a-z]*)\n`).exec(source)?.[1];
    // find-my-way changed: bundle without the shortcut rather than guess.
    if (literal === undefined) return { name: 'lazy-safe-regex2', setup() {} };
    const pattern = new Function(`return ${literal}`)();
    if (!isRegexSafe(pattern)) throw new Error(`find-my-way's ${name} is not safe`);
    known.push(pattern.source);
  }
  const wrapper = `
    const known = new Set(${JSON.stringify(known)});
    let check;
    module.exports = function isRegexSafe(re, opts) {
      if (re instanceof RegExp && known.has(re.source)) return true;
      return (check ??= require('safe-regex2'))(re, opts);
    };`;
  return {
    name: 'lazy-safe-regex2',
    setup(b) {
      b.onResolve({ filter: /^safe-regex2$/ }, (args) =>
        args.namespace === 'lazy-safe-regex2'
          ? undefined
          : { path: 'safe-regex2', namespace: 'lazy-safe-regex2' },
      );
      b.onLoad({ filter: /.*/, namespace: 'lazy-safe-regex2' }, () => ({
        contents: wrapper,
        loader: 'js',
        // Resolved as find-my-way would, wherever npm put it.
        resolveDir: dirname(router),
      }));
    },
  };
}

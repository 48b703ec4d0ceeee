// The README's relative links (docs/options.md, examples/README.md) work on a clone and from
// node_modules, but not on the npm package page: npm resolves relative links against the
// `repository` field, and this package has none yet. So while `npm pack` / `npm publish`
// runs, the README in the package links to the same files inside the published tarball of this
// exact version, on unpkg (which serves every file of every published npm version):
//
//   node scripts/readme-links.mjs pack      prepack: rewrite README.md, keep the source aside
//   node scripts/readme-links.mjs restore   postpack: put the source back
//
// Once `repository` is set in package.json, npm resolves relative links itself: drop the
// prepack/postpack scripts then.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const README = `${ROOT}README.md`;
const SOURCE = `${ROOT}.readme-source.md`;

/** `[text](docs/x.md#y)` → `[text](https://unpkg.com/NAME@VERSION/docs/x.md#y)`; absolute links and anchors untouched. */
export function absoluteLinks(markdown, name, version) {
  return markdown.replace(/\]\((?!#|[a-z][a-z0-9+.-]*:)(?:\.\/)?([^)\s]+)\)/gi, (_m, rel) => `](https://unpkg.com/${name}@${version}/${rel})`);
}

function restore() {
  if (existsSync(SOURCE)) renameSync(SOURCE, README);
}

const mode = process.argv[2];
if (mode === 'pack') {
  restore(); // a pack that died before postpack left its rewrite behind
  const { name, version } = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8'));
  const source = readFileSync(README, 'utf8');
  writeFileSync(SOURCE, source);
  writeFileSync(README, absoluteLinks(source, name, version));
} else if (mode === 'restore') {
  restore();
} else if (mode !== undefined) {
  process.stderr.write('usage: node scripts/readme-links.mjs pack|restore\n');
  process.exit(2);
}

// Adds lock entries for platform-specific optional packages that the partial
// npm registry snapshot here lacks (e.g. @rspack/binding-darwin-arm64).
// `npm install` leaves them out of package-lock.json, and `npm ci` then
// refuses the lock ("Missing: ... from lock file"). The entries carry os/cpu
// so npm skips them on this platform without fetching anything.
// scripts/setup.sh runs it on both lock files before `npm ci`; it is idempotent.
// Usage: node scripts/lock-optional.mjs path/to/package-lock.json
import fs from 'node:fs';

const file = process.argv[2];
if (!file) {
  console.error(
    'usage: node scripts/lock-optional.mjs path/to/package-lock.json'
  );
  process.exit(2);
}
const text = fs.readFileSync(file, 'utf8');
const lock = JSON.parse(text);
// Keep npm's own indentation (it follows package.json's) so the diff shows only the additions.
const indent = /\n([ \t]+)"/.exec(text)?.[1] ?? 2;
const platform = name => {
  const m =
    /-(darwin|linux|win32|freebsd|android|wasm32)-?([a-z0-9]+)?(?:-(gnu|musl|msvc|gnueabihf|wasi))?$/.exec(
      name
    );
  if (!m) {
    return null;
  }
  if (m[1] === 'wasm32') {
    return { cpu: ['wasm32'] };
  }
  const out = { os: [m[1]], cpu: [m[2]] };
  if (m[1] === 'linux' && m[3] === 'gnu') {
    out.libc = ['glibc'];
  } else if (m[1] === 'linux' && m[3] === 'musl') {
    out.libc = ['musl'];
  }
  return out;
};

let added = 0;
for (const [key, entry] of Object.entries(lock.packages)) {
  for (const [dep, version] of Object.entries(
    entry.optionalDependencies ?? {}
  )) {
    const prefix = key ? `${key}/node_modules/` : 'node_modules/';
    const candidates = [`${prefix}${dep}`, `node_modules/${dep}`];
    if (candidates.some(c => lock.packages[c])) {
      continue;
    }
    const where = platform(dep);
    if (!where || !/^\d+\.\d+\.\d+/.test(version)) {
      console.warn(
        `lock-optional: leaving ${dep}@${version} alone (unknown platform or range)`
      );
      continue;
    }
    lock.packages[`node_modules/${dep}`] = {
      version,
      optional: true,
      ...where
    };
    added++;
  }
}
if (added === 0) {
  process.exit(0);
}
fs.writeFileSync(file, JSON.stringify(lock, null, indent) + '\n');
console.log(`lock-optional: added ${added} entries`);

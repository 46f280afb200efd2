// Adds lock entries for platform-specific optional packages that the partial
// npm registry snapshot here lacks (e.g. @rspack/binding-darwin-arm64).
// `npm install` leaves them out of package-lock.json, and `npm ci` then
// refuses the lock ("Missing: ... from lock file"). The entries carry os/cpu
// so npm skips them on this platform without fetching anything.
// Run after every `npm install` in tools/lab: node lock-optional.mjs
import fs from 'node:fs';

const file = new URL('./package-lock.json', import.meta.url);
const lock = JSON.parse(fs.readFileSync(file, 'utf8'));
const platform = name => {
  const m = /-(darwin|linux|win32|freebsd|android|wasm32)-?([a-z0-9]+)?(?:-(gnu|musl|msvc|gnueabihf|wasi))?$/.exec(name);
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
  for (const [dep, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const prefix = key ? `${key}/node_modules/` : 'node_modules/';
    const candidates = [`${prefix}${dep}`, `node_modules/${dep}`];
    if (candidates.some(c => lock.packages[c])) {
      continue;
    }
    const where = platform(dep);
    if (!where || !/^\d+\.\d+\.\d+/.test(version)) {
      console.warn(`lock-optional: leaving ${dep}@${version} alone (unknown platform or range)`);
      continue;
    }
    const base = dep.split('/').pop();
    lock.packages[`node_modules/${dep}`] = {
      version,
      resolved: `https://registry.npmjs.org/${dep}/-/${base}-${version}.tgz`,
      optional: true,
      ...where
    };
    added++;
  }
}
lock.packages = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b)))
);
fs.writeFileSync(file, JSON.stringify(lock, null, 2) + '\n');
console.log(`lock-optional: added ${added} entries`);

// Writes the JSON Schema of the comm protocol (from lib/protocol.js, built by tsc) for the Python side.
import { register } from 'node:module';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as z from 'zod/mini';

// tsc's output imports './rules' (no extension) and '../carto_credentials/rules.json' as a bundler
// would: teach Node the same two things for this script.
register(
  'data:text/javascript,' +
    encodeURIComponent(`
import { readFile } from 'node:fs/promises';
export async function resolve(specifier, context, next) {
  if (/^\\.\\.?\\//.test(specifier) && !/\\.(m?js|json)$/.test(specifier)) {
    return next(specifier + '.js', context);
  }
  return next(specifier, context);
}
export async function load(url, context, next) {
  if (url.startsWith('file:') && url.endsWith('.json')) {
    const text = await readFile(new URL(url), 'utf8');
    return { format: 'module', source: 'export default ' + text, shortCircuit: true };
  }
  return next(url, context);
}`)
);

const {
  COMM_TARGET,
  DECK_MIME,
  DECK_PLACEHOLDER_PREFIX,
  PROTOCOL_VERSION,
  deckOutputSchema,
  frontendMessageSchema,
  kernelMessageSchema
} = await import('../lib/protocol.js');

const out = fileURLToPath(
  new URL('../carto_credentials/protocol.schema.json', import.meta.url)
);
const schema = {
  $comment:
    'Generated from src/protocol.ts by scripts/export-protocol-schema.mjs; do not edit.',
  comm_target: COMM_TARGET,
  version: PROTOCOL_VERSION,
  frontend_to_kernel: z.toJSONSchema(frontendMessageSchema),
  kernel_to_frontend: z.toJSONSchema(kernelMessageSchema),
  // Read by the kernel (carto_credentials/_deck_output.py): one home for both sides.
  deck_output: {
    mime_type: DECK_MIME,
    placeholder_prefix: DECK_PLACEHOLDER_PREFIX,
    schema: z.toJSONSchema(deckOutputSchema)
  }
};
writeFileSync(out, JSON.stringify(schema, null, 2) + '\n');
console.log(`wrote ${out}`);

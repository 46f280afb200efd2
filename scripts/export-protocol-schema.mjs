// Writes the JSON Schema of the comm protocol (from lib/protocol.js, built by tsc) for the Python side.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as z from 'zod/mini';
import {
  COMM_TARGET,
  PROTOCOL_VERSION,
  frontendMessageSchema,
  kernelMessageSchema
} from '../lib/protocol.js';

const out = fileURLToPath(
  new URL('../carto_credentials/protocol.schema.json', import.meta.url)
);
const schema = {
  $comment:
    'Generated from src/protocol.ts by scripts/export-protocol-schema.mjs; do not edit.',
  comm_target: COMM_TARGET,
  version: PROTOCOL_VERSION,
  frontend_to_kernel: z.toJSONSchema(frontendMessageSchema),
  kernel_to_frontend: z.toJSONSchema(kernelMessageSchema)
};
writeFileSync(out, JSON.stringify(schema, null, 2) + '\n');
console.log(`wrote ${out}`);

/**
 * The map widget's synced state, parsed with zod. It holds account references only: a layer's
 * `credentials_ref` is `null` (the notebook's context) or the id under which the kernel
 * registered credentials given in code. Never a key.
 */
import * as z from 'zod/mini';

import { credentialsRefSchema } from '../protocol';

export const layerStateSchema = z.strictObject({
  source: z.string().check(z.minLength(1), z.maxLength(100_000)),
  is_query: z.boolean(),
  credentials_ref: z.nullable(credentialsRefSchema)
});

export const mapStateSchema = z.object({
  layers: z.array(layerStateSchema).check(z.maxLength(50)),
  height: z.number().check(z.int(), z.gte(100), z.lte(4000))
});

export type LayerState = z.infer<typeof layerStateSchema>;
export type MapState = z.infer<typeof mapStateSchema>;

/** The state's map part, or `null` when the kernel sent something malformed. */
export function parseMapState(data: unknown): MapState | null {
  const result = mapStateSchema.safeParse(data);
  return result.success ? result.data : null;
}

/**
 * The map widget's synced state, parsed with zod. The map's `layers` reference layer models,
 * each referencing a source model (`src/widgets/model.ts`); what the view draws is the state
 * flattened to `{source, is_query, credentials_ref}` per layer. It holds account references
 * only: `credentials_ref` is `null` (the notebook's context) or the id under which the kernel
 * registered credentials given in code. Never a key.
 */
import * as z from 'zod/mini';

import { credentialsRefSchema } from '../protocol';

/** A source model's own state (strict: any other key makes it invalid). */
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

/** A source's state, or `null` when malformed or holding any key beyond the three. */
export function parseLayerState(data: unknown): LayerState | null {
  const result = layerStateSchema.safeParse(data);
  return result.success ? result.data : null;
}

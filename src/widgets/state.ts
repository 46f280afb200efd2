/**
 * The map widget's synced state, parsed with zod. The map's `layers` reference layer models,
 * each referencing a source model (`src/widgets/model.ts`); what the view draws is the state
 * flattened to `{source, is_query, credentials_ref, connection, account_ref}` per layer. It holds
 * account references only: `credentials_ref` is `null` (the notebook's context) or the id under
 * which the kernel registered credentials given in code. A CARTO 3 layer has a `connection`
 * (`carto_dw`…) and draws with the CARTO 3 account `account_ref` names, or the notebook's when it
 * is `null`. Never a key nor a token.
 */
import * as z from 'zod/mini';

import { credentialsRefSchema } from '../protocol';

/** A CARTO 3 connection name (`carto_dw`, `carto-dw`, one made in CARTO Workspace). */
export const connectionSchema = z
  .string()
  .check(z.regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/));

/** A stored account's id (`acc-…`), as the account store gives it. */
export const accountRefSchema = z
  .string()
  .check(z.regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/));

/**
 * A source model's own state (strict: any other key makes it invalid). `connection` and
 * `account_ref` are absent from the state of kernels before CARTO 3 support (read as `null`).
 */
const sourceStateSchema = z
  .strictObject({
    source: z.string().check(z.minLength(1), z.maxLength(100_000)),
    is_query: z.boolean(),
    credentials_ref: z.nullable(credentialsRefSchema),
    connection: z.optional(z.nullable(connectionSchema)),
    account_ref: z.optional(z.nullable(accountRefSchema))
  })
  .check(
    // A CARTO 3 layer names an account, never API-key credentials; an account needs a connection.
    z.refine(state =>
      state.connection ? !state.credentials_ref : !state.account_ref
    )
  );

export const layerStateSchema = z.pipe(
  sourceStateSchema,
  z.transform(state => ({
    source: state.source,
    is_query: state.is_query,
    credentials_ref: state.credentials_ref,
    connection: state.connection ?? null,
    account_ref: state.account_ref ?? null
  }))
);

export const mapStateSchema = z.object({
  layers: z.array(layerStateSchema).check(z.maxLength(50)),
  height: z.number().check(z.int(), z.gte(100), z.lte(4000))
});

export type LayerState = z.output<typeof layerStateSchema>;
export type MapState = z.infer<typeof mapStateSchema>;

/** The state's map part, or `null` when the kernel sent something malformed. */
export function parseMapState(data: unknown): MapState | null {
  const result = mapStateSchema.safeParse(data);
  return result.success ? result.data : null;
}

/** A source's state, or `null` when malformed or holding any key beyond the five. */
export function parseLayerState(data: unknown): LayerState | null {
  const result = layerStateSchema.safeParse(data);
  return result.success ? result.data : null;
}

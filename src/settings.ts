/**
 * The extension's preferences, parsed from the setting registry with zod so that a hand-edited
 * or admin-locked settings file can never put the extension in an invalid state.
 */
import * as z from 'zod/mini';

export const kernelAccessSchema = z.enum(['ask', 'always', 'never']);
export type KernelAccessPolicy = z.infer<typeof kernelAccessSchema>;

const provisionedAccountSchema = z.object({
  label: z.string().check(z.minLength(1)),
  username: z.optional(z.string()),
  baseUrl: z.string().check(z.minLength(1))
});

/** Parsed settings; every field always has a value. */
export interface ISettingsConfig {
  kernelAccess: KernelAccessPolicy;
  baseUrlTemplate: string;
  allowNonHttps: boolean;
  validateOnLogin: boolean;
  redactOutputs: boolean;
  showStatusBar: boolean;
  provisionedAccounts: { label: string; username?: string; baseUrl: string }[];
}

export const DEFAULT_SETTINGS: Readonly<ISettingsConfig> = Object.freeze({
  kernelAccess: 'ask',
  baseUrlTemplate: 'https://{username}.carto.com/',
  allowNonHttps: false,
  validateOnLogin: true,
  redactOutputs: true,
  showStatusBar: true,
  provisionedAccounts: []
});

const fieldSchemas = {
  kernelAccess: kernelAccessSchema,
  baseUrlTemplate: z.string().check(z.minLength(1)),
  allowNonHttps: z.boolean(),
  validateOnLogin: z.boolean(),
  redactOutputs: z.boolean(),
  showStatusBar: z.boolean(),
  provisionedAccounts: z.array(provisionedAccountSchema)
};

/**
 * Reads the composite settings field by field: a bad value falls back to its default (and is
 * reported through `onInvalid`) instead of discarding every other preference.
 */
export function parseSettings(
  composite: unknown,
  onInvalid: (field: string) => void = () => undefined
): ISettingsConfig {
  const source =
    typeof composite === 'object' && composite !== null
      ? (composite as Record<string, unknown>)
      : {};
  const config: Record<string, unknown> = { ...DEFAULT_SETTINGS };
  for (const [field, schema] of Object.entries(fieldSchemas)) {
    if (!(field in source)) {
      continue;
    }
    const result = schema.safeParse(source[field]);
    if (result.success) {
      config[field] = result.data;
    } else {
      onInvalid(field);
    }
  }
  return config as unknown as ISettingsConfig;
}

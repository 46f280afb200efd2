import { readFileSync } from 'fs';
import { join } from 'path';

import { DEFAULT_SETTINGS, parseSettings } from '../src/settings';

const schema = JSON.parse(
  readFileSync(join(__dirname, '..', 'schema', 'plugin.json'), 'utf8')
);

describe('parseSettings()', () => {
  it('gives the defaults for an empty composite', () => {
    expect(parseSettings({})).toEqual(DEFAULT_SETTINGS);
    expect(parseSettings(null)).toEqual(DEFAULT_SETTINGS);
  });

  it('matches the defaults declared in schema/plugin.json', () => {
    const declared = Object.fromEntries(
      Object.entries(schema.properties).map(([key, value]) => [
        key,
        (value as { default: unknown }).default
      ])
    );
    expect(declared).toEqual(DEFAULT_SETTINGS);
  });

  it('keeps valid fields and reports each invalid one', () => {
    const invalid: string[] = [];
    const config = parseSettings(
      {
        kernelAccess: 'always',
        allowNonHttps: 'yes',
        baseUrlTemplate: '',
        provisionedAccounts: [
          { label: 'Team', baseUrl: 'https://c.example/user/t/' }
        ]
      },
      field => invalid.push(field)
    );
    expect(config.kernelAccess).toBe('always');
    expect(config.allowNonHttps).toBe(false);
    expect(config.baseUrlTemplate).toBe(DEFAULT_SETTINGS.baseUrlTemplate);
    expect(config.provisionedAccounts).toHaveLength(1);
    expect(invalid.sort()).toEqual(['allowNonHttps', 'baseUrlTemplate']);
  });

  it('rejects a policy outside ask/always/never', () => {
    expect(parseSettings({ kernelAccess: 'sometimes' }).kernelAccess).toBe(
      'ask'
    );
  });

  it('has no property that could hold a key', () => {
    expect(JSON.stringify(schema)).not.toMatch(/api_?key"\s*:/i);
  });
});

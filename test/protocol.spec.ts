import { readFileSync } from 'fs';
import { join } from 'path';
import * as z from 'zod/mini';

import {
  COMM_TARGET,
  DECK_MIME,
  DECK_PLACEHOLDER_PREFIX,
  deckOutputSchema,
  frontendMessageSchema,
  kernelMessageSchema,
  parseKernelMessage
} from '../src/protocol';

describe('protocol', () => {
  describe('set_credentials version 2 (CARTO 3)', () => {
    const carto3 = {
      version: 2,
      type: 'set_credentials',
      session_path: 'work/map.ipynb',
      kernel_id: 'k1',
      state: 'granted',
      account: {
        id: 'acc-1',
        label: 'alice (M2M)',
        kind: 'm2m',
        api_base_url: 'https://gcp-us-east1.api.carto.com',
        access_token: 'eyJ.token.sig',
        expires_at: 1795359534
      }
    };

    it('carries a CARTO 3 account with its token and absolute expiry', () => {
      expect(frontendMessageSchema.safeParse(carto3).success).toBe(true);
      const expired = { ...carto3, state: 'login_required', account: null };
      expect(frontendMessageSchema.safeParse(expired).success).toBe(true);
    });

    it('keeps versions apart: no CARTO 3 account in version 1, no API key in version 2', () => {
      expect(
        frontendMessageSchema.safeParse({ ...carto3, version: 1 }).success
      ).toBe(false);
      expect(
        frontendMessageSchema.safeParse({
          ...carto3,
          account: {
            id: 'a',
            label: 'a',
            username: 'a',
            base_url: 'https://a.carto.com/',
            api_key: 'k'
          }
        }).success
      ).toBe(false);
      expect(
        frontendMessageSchema.safeParse({ ...carto3, state: 'public' }).success
      ).toBe(false);
    });

    it.each([
      ['a token with a space', { access_token: 'a b' }],
      ['a fractional expiry', { expires_at: 1.5 }],
      ['a negative expiry', { expires_at: -1 }],
      ['a non-http API base URL', { api_base_url: 'ftp://x' }],
      ['an unknown kind', { kind: 'saml' }]
    ])('refuses %s', (_, change) => {
      const message = { ...carto3, account: { ...carto3.account, ...change } };
      expect(frontendMessageSchema.safeParse(message).success).toBe(false);
    });
  });

  it('accepts a credentials_changed message and its unset form', () => {
    const set = {
      version: 1,
      type: 'credentials_changed',
      credentials: {
        username: 'a',
        base_url: 'https://a.carto.com/',
        api_key: 'k'
      }
    };
    expect(parseKernelMessage(set)).toEqual(set);
    expect(
      parseKernelMessage({
        version: 1,
        type: 'credentials_changed',
        credentials: null
      })
    ).not.toBeNull();
  });

  it('rejects extra fields, empty keys and other versions', () => {
    const base = { version: 1, type: 'credentials_changed', credentials: null };
    expect(parseKernelMessage({ ...base, extra: 1 })).toBeNull();
    expect(parseKernelMessage({ ...base, version: 2 })).toBeNull();
    expect(
      parseKernelMessage({
        ...base,
        credentials: {
          username: 'a',
          base_url: 'https://a.carto.com/',
          api_key: ''
        }
      })
    ).toBeNull();
  });

  it('is exported as JSON Schema for the Python side, up to date', () => {
    const exported = JSON.parse(
      readFileSync(
        join(__dirname, '..', 'carto_credentials', 'protocol.schema.json'),
        'utf8'
      )
    );
    expect(exported.comm_target).toBe(COMM_TARGET);
    expect(exported.frontend_to_kernel).toEqual(
      JSON.parse(JSON.stringify(z.toJSONSchema(frontendMessageSchema)))
    );
    expect(exported.kernel_to_frontend).toEqual(
      JSON.parse(JSON.stringify(z.toJSONSchema(kernelMessageSchema)))
    );
    expect(exported.deck_output).toEqual({
      mime_type: DECK_MIME,
      placeholder_prefix: DECK_PLACEHOLDER_PREFIX,
      schema: JSON.parse(JSON.stringify(z.toJSONSchema(deckOutputSchema)))
    });
  });
});

import { readFileSync } from 'fs';
import { join } from 'path';
import * as z from 'zod/mini';

import {
  COMM_TARGET,
  frontendMessageSchema,
  kernelMessageSchema,
  parseKernelMessage
} from '../src/protocol';

describe('protocol', () => {
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
  });
});

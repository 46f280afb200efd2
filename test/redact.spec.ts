import type * as nbformat from '@jupyterlab/nbformat';
import { OutputAreaModel } from '@jupyterlab/outputarea';

import { CartoCredentialsModel } from '../src/model';
import {
  maskKey,
  maskKeys,
  maskOutput,
  MIN_KEY_LENGTH,
  OutputRedactor
} from '../src/redact';
import { DEFAULT_SETTINGS } from '../src/settings';
import { FakeStore, settle } from './fakes';

const ALICE = 'alice-secret-key-0001';
const BOB = 'bob-secret-key-0002';

describe('maskKey()', () => {
  it('shows no part of a key shorter than 16 characters, as the kernel does', () => {
    expect(maskKey('secretkey123')).toBe('***');
  });

  it('keeps only the last four characters', () => {
    expect(maskKey(ALICE)).toBe('***0001');
  });
});

describe('maskKeys()', () => {
  it('masks every occurrence of every key in a string', () => {
    expect(maskKeys(`a=${ALICE} b=${BOB} again ${ALICE}`, [ALICE, BOB])).toBe(
      'a=***0001 b=***0002 again ***0001'
    );
  });

  it('masks through nested objects and arrays', () => {
    const value = {
      user: 'alice',
      nested: { list: [`key ${ALICE}`, 3, null, { deep: BOB }] }
    };
    expect(maskKeys(value, [ALICE, BOB])).toEqual({
      user: 'alice',
      nested: { list: ['key ***0001', 3, null, { deep: '***0002' }] }
    });
    expect(value.nested.list[0]).toBe(`key ${ALICE}`);
  });

  it('masks the longer key whole when one key contains another', () => {
    const short = 'secretkey123';
    const long = 'prefix-secretkey123-suffix';
    expect(maskKeys(`${long} / ${short}`, [short, long])).toBe('***ffix / ***');
    expect(maskKeys(`${long} / ${short}`, [long, short])).toBe('***ffix / ***');
  });

  it('never masks default_public, which is no secret', () => {
    const text = "Credentials(username='x', api_key='default_public')";
    expect(maskKeys(text, ['default_public'])).toBe(text);
  });

  it('ignores keys too short to be real', () => {
    const short = 'a'.repeat(MIN_KEY_LENGTH - 1);
    expect(maskKeys(`banana ${short}`, [short])).toBe(`banana ${short}`);
  });

  it('treats keys literally, not as patterns', () => {
    const key = 'k.y+(1)*[x]$^0009';
    expect(maskKeys(`k-y+(1)*[x]$^0009 ${key}`, [key])).toBe(
      'k-y+(1)*[x]$^0009 ***0009'
    );
  });

  it('returns the same object when nothing is masked', () => {
    const value = { a: ['x'], b: { c: 'y' } };
    expect(maskKeys(value, [ALICE])).toBe(value);
    expect(maskKeys(value, [])).toBe(value);
  });
});

describe('maskOutput()', () => {
  it('masks stream text', () => {
    const output: nbformat.IStream = {
      output_type: 'stream',
      name: 'stdout',
      text: `key=${ALICE}\n`
    };
    expect(maskOutput(output, [ALICE])).toEqual({
      ...output,
      text: 'key=***0001\n'
    });
  });

  it('masks text, HTML and JSON data, but not binary images', () => {
    const png = `iVBOR${ALICE}`;
    const output: nbformat.IExecuteResult = {
      output_type: 'execute_result',
      execution_count: 1,
      metadata: {},
      data: {
        'text/plain': [`'${ALICE}'`],
        'text/html': `<b>${BOB}</b>`,
        'application/json': { creds: { api_key: ALICE, list: [BOB] } },
        'image/png': png
      }
    };
    const masked = maskOutput(output, [ALICE, BOB]) as nbformat.IExecuteResult;
    expect(masked.data).toEqual({
      'text/plain': ["'***0001'"],
      'text/html': '<b>***0002</b>',
      'application/json': {
        creds: { api_key: '***0001', list: ['***0002'] }
      },
      'image/png': png
    });
    expect(JSON.stringify(masked)).not.toContain(BOB);
  });

  it('masks tracebacks of errors', () => {
    const output: nbformat.IError = {
      output_type: 'error',
      ename: 'ValueError',
      evalue: `bad key ${ALICE}`,
      traceback: [`line ${ALICE}`]
    };
    const masked = maskOutput(output, [ALICE]);
    expect(JSON.stringify(masked)).not.toContain(ALICE);
  });

  it('answers null when the output shows no key', () => {
    expect(
      maskOutput({ output_type: 'stream', name: 'stdout', text: 'hi' }, [ALICE])
    ).toBeNull();
  });
});

describe('OutputRedactor', () => {
  async function setup(): Promise<{
    model: CartoCredentialsModel;
    redactor: OutputRedactor;
    outputs: OutputAreaModel;
  }> {
    const store = new FakeStore();
    store.add('acc-a', 'alice', ALICE);
    store.defaultId = 'acc-a';
    store.grantMap['n.ipynb'] = 'allow';
    const model = new CartoCredentialsModel({ store });
    await model.refresh();
    // The key becomes known when it is pushed to a kernel.
    await model.pushPayload('n.ipynb');
    const redactor = new OutputRedactor(model);
    const outputs = new OutputAreaModel();
    redactor.watchOutputs(outputs);
    return { model, redactor, outputs };
  }

  function text(outputs: OutputAreaModel): string {
    return JSON.stringify(outputs.toJSON());
  }

  it('masks an output as soon as it is added', async () => {
    const { outputs } = await setup();
    outputs.add({ output_type: 'stream', name: 'stdout', text: ALICE });
    await settle();
    expect(text(outputs)).not.toContain(ALICE);
    expect(text(outputs)).toContain('***0001');
  });

  it('masks a key split over two stream chunks', async () => {
    const { outputs } = await setup();
    outputs.add({
      output_type: 'stream',
      name: 'stdout',
      text: 'x ' + ALICE.slice(0, 6)
    });
    await settle();
    outputs.add({
      output_type: 'stream',
      name: 'stdout',
      text: ALICE.slice(6) + '\n'
    });
    await settle();
    expect(text(outputs)).not.toContain(ALICE);
  });

  it('masks outputs that were there before the key was known', async () => {
    const store = new FakeStore();
    store.add('acc-a', 'alice', ALICE);
    store.defaultId = 'acc-a';
    const model = new CartoCredentialsModel({ store });
    await model.refresh();
    const redactor = new OutputRedactor(model);
    const outputs = new OutputAreaModel();
    outputs.add({ output_type: 'stream', name: 'stdout', text: BOB });
    redactor.watchOutputs(outputs);
    await settle();
    expect(text(outputs)).toContain(BOB);
    // Code in a kernel sets bob's key: from then on it is known, and masked where it already was.
    model.setRuntimeCredentials('k', {
      username: 'bob',
      base_url: 'https://bob.carto.com/',
      api_key: BOB
    });
    expect(text(outputs)).not.toContain(BOB);
  });

  it('leaves outputs alone when masking is switched off', async () => {
    const { model, outputs } = await setup();
    model.configure({ ...DEFAULT_SETTINGS, redactOutputs: false });
    outputs.add({ output_type: 'stream', name: 'stdout', text: ALICE });
    await settle();
    expect(text(outputs)).toContain(ALICE);
    model.configure({ ...DEFAULT_SETTINGS, redactOutputs: true });
    expect(text(outputs)).not.toContain(ALICE);
  });

  it('stops watching once disposed', async () => {
    const { redactor, outputs } = await setup();
    redactor.dispose();
    outputs.add({ output_type: 'stream', name: 'stdout', text: ALICE });
    await settle();
    expect(text(outputs)).toContain(ALICE);
    expect(redactor.isDisposed).toBe(true);
  });
});

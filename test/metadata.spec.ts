import { METADATA_KEY, readAccountId, writeAccountId } from '../src/metadata';

class Holder {
  data: Record<string, unknown> = {};
  getMetadata(key: string): unknown {
    return this.data[key];
  }
  setMetadata(key: string, value: unknown): void {
    this.data[key] = value;
  }
  deleteMetadata(key: string): void {
    delete this.data[key];
  }
}

describe('notebook metadata', () => {
  it('stores the account id only, and clears it', () => {
    const holder = new Holder();
    writeAccountId(holder, 'acc-1');
    expect(holder.data).toEqual({ [METADATA_KEY]: { account: 'acc-1' } });
    expect(readAccountId(holder)).toBe('acc-1');
    writeAccountId(holder, null);
    expect(holder.data).toEqual({});
    expect(readAccountId(holder)).toBeNull();
  });

  it('reads malformed metadata as no choice', () => {
    const holder = new Holder();
    for (const bad of ['acc-1', { account: 3 }, { account: '' }, null]) {
      holder.data[METADATA_KEY] = bad;
      expect(readAccountId(holder)).toBeNull();
    }
  });
});

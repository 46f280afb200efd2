/**
 * A loaded model over a FakeStore with two accounts, and a metadata holder that records writes:
 * shared by the toolbar, status bar and command specs.
 */
import { nullTranslator } from '@jupyterlab/translation';

import type { IMetadataHolder } from '../src/metadata';
import { CartoCredentialsModel } from '../src/model';
import { FakeStore } from './fakes';

export const trans = nullTranslator.load('jupyterlab_carto_credentials');

export class FakeMetadata implements IMetadataHolder {
  values = new Map<string, unknown>();
  getMetadata(key: string): unknown {
    return this.values.get(key);
  }
  setMetadata(key: string, value: { account: string }): void {
    this.values.set(key, value);
  }
  deleteMetadata(key: string): void {
    this.values.delete(key);
  }
}

export async function loadedModel(
  prepare: (store: FakeStore) => void = () => undefined
): Promise<{ model: CartoCredentialsModel; store: FakeStore }> {
  const store = new FakeStore();
  store.add('acc-a', 'alice', 'alice-secret-key-01');
  store.add('acc-b', 'bob', 'bob-secret-key-02');
  store.defaultId = 'acc-a';
  prepare(store);
  const model = new CartoCredentialsModel({ store });
  await model.refresh();
  return { model, store };
}

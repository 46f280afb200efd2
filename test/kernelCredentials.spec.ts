import { KernelCredentials } from '../src/kernelCredentials';

const code = {
  username: 'bob',
  base_url: 'https://bob.carto.com/',
  api_key: 'code-key'
};

describe('KernelCredentials', () => {
  it('knows which notebook each kernel serves, across renames', () => {
    const kernels = new KernelCredentials();
    kernels.register('k1', 'a.ipynb');
    kernels.register('k2', 'a.ipynb');
    kernels.rename('a.ipynb', 'b.ipynb');
    expect(kernels.pathOf('k1')).toBe('b.ipynb');
    expect(kernels.kernelsOf('b.ipynb')).toEqual(['k1', 'k2']);
  });

  it('lists code-set credentials as keyless accounts and their keys for masking', () => {
    const kernels = new KernelCredentials();
    kernels.register('k1', 'a.ipynb');
    kernels.setCodeCredentials('k1', code);
    kernels.setLayerCredentials('k1', 'ref-1', { ...code, api_key: 'layer' });
    expect(kernels.accounts).toEqual([
      expect.objectContaining({
        id: 'runtime-k1',
        label: 'bob',
        isRuntime: true
      })
    ]);
    expect(JSON.stringify(kernels.accounts)).not.toContain('code-key');
    expect(kernels.keys().sort()).toEqual(['code-key', 'layer']);
    expect(kernels.layerCredentials('k1', 'ref-1')?.api_key).toBe('layer');
  });

  it('forgets everything about a kernel that goes away', () => {
    const kernels = new KernelCredentials();
    kernels.register('k1', 'a.ipynb');
    kernels.setCodeCredentials('k1', code);
    kernels.setLayerCredentials('k1', 'ref-1', code);
    expect(kernels.unregister('k1')).toBe(true);
    expect(kernels.unregister('k1')).toBe(false);
    expect(kernels.pathOf('k1')).toBeUndefined();
    expect(kernels.accounts).toEqual([]);
    expect(kernels.keys()).toEqual([]);
  });
});

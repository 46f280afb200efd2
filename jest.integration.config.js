/**
 * Integration tests: the real frontend code (KernelBridge, CartoCredentialsModel,
 * RestAccountStore, @jupyterlab/services, SessionContext) against a real jupyter_server and real
 * kernels started from the development venv. Run: `npm run test:integration`.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const base = require('./jest.config');

module.exports = {
  ...base,
  testRegex: '/test/integration/.*\\.spec\\.ts$',
  testPathIgnorePatterns: ['/node_modules/', '/test/e2e/'],
  // jsdom resolves `ws` to its browser stub; the services need the Node client.
  moduleNameMapper: {
    ...base.moduleNameMapper,
    '^ws$': '<rootDir>/node_modules/ws/index.js'
  },
  setupFiles: [...base.setupFiles, '<rootDir>/test/integration/setup.ts'],
  // One server per file; files run one at a time on 2 cores.
  maxWorkers: 1,
  testTimeout: 120000,
  collectCoverageFrom: undefined
};

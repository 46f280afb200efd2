const jestJupyterLab = require('@jupyterlab/testing/lib/jest-config');

// ES-module packages that jest must transform (JupyterLab ships ESM in lib/*.js).
const esModules = [
  '@codemirror',
  '@jupyter/ydoc',
  '@jupyter/react-components',
  '@jupyter/web-components',
  '@jupyter-widgets/',
  '@jupyterlab/',
  '@microsoft',
  'color',
  'exenv-es6',
  'lib0',
  'marked',
  'nanoid',
  'vscode-ws-jsonrpc',
  'y-protocols',
  'y-websocket',
  'yjs'
].join('|');

const baseConfig = jestJupyterLab(__dirname);

module.exports = {
  ...baseConfig,
  automock: false,
  modulePathIgnorePatterns: [
    '<rootDir>/carto_credentials/',
    '<rootDir>/tools/',
    '<rootDir>/.venv/'
  ],
  collectCoverageFrom: ['src/**/*.{ts,tsx}', '!src/**/*.d.ts'],
  coverageReporters: ['lcov', 'text-summary'],
  reporters: ['default'],
  testPathIgnorePatterns: [
    '/node_modules/',
    '/test/e2e/',
    '/test/integration/'
  ],
  transformIgnorePatterns: [`/node_modules/(?!${esModules}).+`]
};

/** @type {import('jest').Config} */

// Dependencies published only as ES modules (hyparquet and its decompressors): jest's CommonJS runtime cannot load
// them as they are, so ts-jest rewrites their imports into requires (Node itself loads them with require()).
const ESM_ONLY_PACKAGES = ['hyparquet', 'hyparquet-compressors', 'hysnappy'];

module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  globalSetup: '<rootDir>/test/global-setup.ts',
  testTimeout: 120000,
  transform: {
    '^.+\\.ts$': 'ts-jest',
    [`/node_modules/(${ESM_ONLY_PACKAGES.join('|')})/.+\\.js$`]: ['ts-jest', { tsconfig: { allowJs: true, checkJs: false }, isolatedModules: true }],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${ESM_ONLY_PACKAGES.join('|')})/)`],
};

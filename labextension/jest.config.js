/** Jest: the client's unit tests (fake socket) and integration tests (a real pdit-gateway). */
module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'test/tsconfig.json' }]
  },
  testMatch: ['<rootDir>/test/**/*.spec.ts'],
  testTimeout: 60000
};

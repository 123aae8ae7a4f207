/** Pure modules only: no stack is started. */
const base = require('./jest.config');
module.exports = { ...base, testMatch: ['<rootDir>/test/unit/**/*.test.ts', '<rootDir>/test/replay/**/*.test.ts'], globalSetup: undefined, globalTeardown: undefined };

#!/usr/bin/env node
// Runs before `npm start` and `npm test` (npm's pre-scripts): on a fresh clone, or after the lockfile
// changed, installs the exact locked dependencies, so the README's two commands are all a newcomer types.
// Plain JavaScript on purpose: it runs before TypeScript tooling is installed.
const { execSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const lock = path.join(root, 'package-lock.json');
const installed = path.join(root, 'node_modules', '.package-lock.json');

const stale = !fs.existsSync(installed) || fs.statSync(installed).mtimeMs < fs.statSync(lock).mtimeMs;
if (stale) {
  console.error('[tideway] installing dependencies (npm ci)');
  execSync('npm ci --no-audit --no-fund', { cwd: root, stdio: 'inherit' });
}

import fs from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';

/**
 * Recorded histories of every run workflow must replay on the current code: a
 * non-deterministic change fails here before it ships. Histories of older code (`*.v1.json`) stay, so
 * runs started before a deploy still replay after it. Record new ones with `npm run history:record`.
 */
const dir = path.resolve(__dirname, '../fixtures/histories');
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));

describe('workflow replay', () => {
  it.each(files)('replays %s', async (file) => {
    const history = historyFromJSON(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')));
    await Worker.runReplayHistory({ workflowsPath: require.resolve('../../workflows') }, history, file);
  }, 60_000);
});

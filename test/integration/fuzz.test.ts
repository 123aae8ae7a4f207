import { ensureSchemathesis, runFuzz } from '../../scripts/fuzz';
import { closeDb, newTenant, testStack } from '../helpers/stack';

/**
 * The short version of `npm run fuzz`: Schemathesis against every operation of /openapi.json on the
 * test stack. The first run on a machine installs Schemathesis from PyPI (.cache/schemathesis-venv).
 */
describe('fuzzing the API with Schemathesis', () => {
  afterAll(closeDb);

  it('finds no 5xx and no answer the OpenAPI document does not allow', async () => {
    ensureSchemathesis();
    // A tenant of its own: the fuzzer lists and bulk-cancels only what it created itself.
    const { key } = await newTenant('fuzz');
    const result = await runFuzz({ apiUrl: testStack().apiUrl, apiKey: key, short: true });
    if (!result.ok) throw new Error(`Schemathesis found problems (exit ${result.exitCode}${result.problem ? `; ${result.problem}` : ''}):\n${result.output.slice(-20_000)}`);
    expect(result.generated).toBeGreaterThan(100);
  }, 10 * 60_000);
});

import { ACTION_STATUSES, IllegalTransitionError, allowedFrom, assertTransition, canTransition, isTerminal } from '../../core/run-status';

describe('action run status machine', () => {
  it('allows the documented path pending → queued → running → completed', () => {
    expect(canTransition('action', 'pending', 'queued')).toBe(true);
    expect(canTransition('action', 'queued', 'running')).toBe(true);
    expect(canTransition('action', 'running', 'completed')).toBe(true);
  });

  it('never leaves completed or rejected', () => {
    for (const to of ACTION_STATUSES) {
      expect(canTransition('action', 'completed', to)).toBe(false);
      expect(canTransition('action', 'rejected', to)).toBe(false);
    }
  });

  it('retries only failed and cancelled runs back to queued', () => {
    expect(allowedFrom('action', 'queued').sort()).toEqual(['cancelled', 'failed', 'paused', 'pending']);
  });

  it('cancels from every non-terminal status', () => {
    for (const from of ACTION_STATUSES.filter((s) => !isTerminal('action', s))) {
      expect(canTransition('action', from, 'cancelled') || canTransition('action', from, 'cancelling')).toBe(true);
    }
  });

  it('names the verb and the current status in the error', () => {
    expect(() => assertTransition('action', 'completed', 'queued', 'execute')).toThrow(new IllegalTransitionError('action', 'completed', 'queued', 'execute'));
    expect(() => assertTransition('action', 'completed', 'queued', 'execute')).toThrow('cannot execute run in status completed');
  });
});

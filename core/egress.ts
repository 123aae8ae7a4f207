/**
 * Where workers may send requests (EGRESS): anywhere (`any`, the default), or only this machine
 * (`loopback`). Test and fuzzing stacks use `loopback`: their runs carry generated URLs, which must
 * never reach another host. The URL asked for is checked; redirects a loopback server sends are not.
 */
export type EgressPolicy = 'any' | 'loopback';

export function parseEgressPolicy(raw: string | undefined): EgressPolicy {
  if (raw === undefined || raw === '' || raw === 'any') return 'any';
  if (raw === 'loopback') return 'loopback';
  throw new Error(`EGRESS must be "any" or "loopback", got "${raw}"`);
}

const isLoopbackHost = (host: string) =>
  host === 'localhost' || host.endsWith('.localhost') || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);

/** Why a request to `url` is refused under `policy`, or null when it may go. */
export function egressRefusal(url: string | URL, policy: EgressPolicy): string | null {
  if (policy === 'any') return null;
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return null; // not a URL: the request fails on its own
  }
  return isLoopbackHost(host) ? null : `requests to ${host} are not allowed (EGRESS=loopback)`;
}

/** `fetch` that refuses what the policy does not allow, as a network failure would. */
export function guardedFetch(policy: EgressPolicy, inner: typeof fetch = fetch): typeof fetch {
  if (policy === 'any') return inner;
  return (input, init) => {
    const url = input instanceof Request ? input.url : input;
    const refusal = egressRefusal(url, policy);
    if (refusal) return Promise.reject(new TypeError('fetch failed', { cause: { code: 'EGRESS_DENIED', message: refusal } }));
    return inner(input, init);
  };
}

import fs from 'node:fs';
import path from 'node:path';

/**
 * What every benchmark shares: the running stack (`npm start`, or the throwaway stack of
 * `npm run bench`, found through DATA_DIR/stack.json), an API client, percentiles and results.
 */
export interface StackInfo {
  apiUrl: string;
  databaseUrl: string;
  temporalAddress: string;
  namespace?: string;
  taskQueue?: string;
  pid?: number;
  apiPid?: number;
}

let info: StackInfo | null = null;
/** The stack the benchmark runs against, read once from DATA_DIR/stack.json. */
export function stack(): StackInfo {
  return (info ??= JSON.parse(fs.readFileSync(path.join(path.resolve(process.env.DATA_DIR || '.data'), 'stack.json'), 'utf8')) as StackInfo);
}

export const apiKey = (): string | undefined => process.env.BOOTSTRAP_API_KEY ?? process.env.TIDEWAY_API_KEY;

/** One API call as `key` (the bootstrap key unless given); a status ≥ 300 throws with the body. */
export async function api(method: string, url: string, body?: unknown, key = apiKey()): Promise<any> {
  const res = await fetch(stack().apiUrl + url, { method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
  if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** The p-th percentile (nearest rank) of xs. */
export const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

/** Milliseconds rounded to 0.1, for tables. */
export const ms = (x: number): number => Math.round(x * 10) / 10;

/** Prints the result as one JSON line and writes it to bench/results/<name>.json. */
export function writeResult(name: string, result: unknown): void {
  console.log(JSON.stringify(result));
  fs.mkdirSync(path.join(__dirname, 'results'), { recursive: true });
  fs.writeFileSync(path.join(__dirname, 'results', `${name}.json`), JSON.stringify(result, null, 2));
}

/** Reads an SSE stream until it closes or `max` events arrived. */
export async function readSseFrom(base: string, key: string, url: string, headers: Record<string, string> = {}, max = Infinity) {
  const res = await fetch(base + url, { headers: { authorization: `Bearer ${key}`, ...headers } });
  if (res.status !== 200 || !res.headers.get('content-type')?.includes('text/event-stream')) {
    throw new Error(`expected an event stream, got ${res.status} ${res.headers.get('content-type')}`);
  }
  const events: { id: string; event: string; data: any }[] = [];
  const decoder = new TextDecoder();
  let buf = '';
  const reader = res.body!.getReader();
  while (events.length < max) {
    const { done, value } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const fields = Object.fromEntries(block.split('\n').filter((l) => !l.startsWith(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
      if (fields.id && events.length < max) events.push({ id: fields.id, event: fields.event, data: JSON.parse(fields.data) });
    }
  }
  await reader.cancel().catch(() => undefined);
  return events;
}


import crypto from 'node:crypto';
import http from 'node:http';

/**
 * The floor for bench/stream.ts: a bare Node http server that fans Server-Sent Events out from an
 * in-process timer per run, serialising each frame once. POST /start starts the timers, POST /stop
 * ends every stream and answers how many events each run sent. Usage: sse-floor.ts port runs rate
 */
const now = () => performance.timeOrigin + performance.now();

function floorServer() {
  const [port, runs, rate] = process.argv.slice(2).map(Number);
  const subs = Array.from({ length: runs }, () => new Set<http.ServerResponse>());
  const timers: NodeJS.Timeout[] = [];
  const sent = Array.from({ length: runs }, () => 0);
  let id = 0;
  const server = http.createServer((req, res) => {
    const m = /^\/runs\/(\d+)\/stream$/.exec(req.url ?? '');
    if (m) {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
      res.write(': connected\n\n');
      const set = subs[Number(m[1])];
      set.add(res);
      req.on('close', () => set.delete(res));
    } else if (req.url === '/start') {
      subs.forEach((set, r) => setTimeout(() => {
        timers.push(setInterval(() => {
          const seq = ++sent[r];
          const event = { id: String(++id), run_id: crypto.randomUUID(), type: 'bench', level: 'info', message: `event ${seq}`, data: { seq, t: now() }, created_at: new Date().toISOString() };
          const frame = `id: ${event.id}\nevent: bench\ndata: ${JSON.stringify(event)}\n\n`;
          for (const sub of set) sub.write(frame);
        }, 1000 / rate));
      }, (r * 1000) / rate / runs));
      res.end();
    } else if (req.url === '/stop') {
      timers.forEach(clearInterval);
      for (const set of subs) for (const sub of set) sub.end('event: status\ndata: {"terminal":true}\n\n');
      res.end(JSON.stringify(sent));
    } else res.end('{"status":"ok"}');
  });
  server.listen(port, '127.0.0.1');
}

floorServer();

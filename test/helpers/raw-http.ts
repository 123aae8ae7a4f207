import net from 'node:net';

/**
 * A raw TCP connection to an HTTP server, for what fetch cannot do: send a byte a second, send a
 * body larger than announced, keep thousands of sockets open, read several responses from one
 * connection.
 */
export function rawConnection(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  let text = '';
  const opened = Date.now();
  socket.on('data', (d) => (text += d.toString('latin1')));
  socket.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - opened)));
  return {
    socket,
    /** Milliseconds from connecting until the server (or we) closed the connection. */
    closed,
    get received() {
      return text;
    },
    write: (data: string | Buffer) => new Promise<void>((resolve) => (socket.write(data) ? resolve() : socket.once('drain', () => resolve()))),
    /** Resolves once what was received satisfies `done`, rejects after `timeoutMs`. */
    until(done: (received: string) => boolean, timeoutMs = 10_000): Promise<string> {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!done(text)) return false;
          clearTimeout(timer);
          socket.off('data', check);
          resolve(text);
          return true;
        };
        const timer = setTimeout(() => {
          socket.off('data', check);
          reject(new Error(`timed out; received ${JSON.stringify(text.slice(0, 300))}`));
        }, timeoutMs);
        if (!check()) socket.on('data', check);
      });
    },
  };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The complete responses in `text` (bodies framed by Content-Length; none means an empty body). */
export function parseResponses(text: string): RawResponse[] {
  const out: RawResponse[] = [];
  let rest = text;
  for (let end = rest.indexOf('\r\n\r\n'); end >= 0; end = rest.indexOf('\r\n\r\n')) {
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n');
    const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    const length = Number(headers['content-length'] ?? 0);
    if (rest.length < end + 4 + length) break;
    out.push({ status: Number(statusLine.split(' ')[1]), headers, body: rest.slice(end + 4, end + 4 + length) });
    rest = rest.slice(end + 4 + length);
  }
  return out;
}

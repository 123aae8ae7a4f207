import http from 'node:http';

/** The baseline's only activity: POST JSON to a URL, fail on a non-2xx answer. */
export const activities = {
  async post(url: string, body: unknown): Promise<unknown> {
    const data = JSON.stringify(body ?? {});
    return new Promise((resolve, reject) => {
      const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => ((res.statusCode ?? 500) < 300 ? resolve(text ? JSON.parse(text) : null) : reject(new Error(`HTTP ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end(data);
    });
  },
};
export type BaselineActivities = typeof activities;

import pino from 'pino';

/** JSON logs; secrets never reach them (auth headers and cookies are redacted). */
export function createLogger(name: string, level = process.env.LOG_LEVEL || 'info') {
  return pino({
    name,
    level,
    redact: {
      paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers.cookie', 'apiKey', 'key'],
      censor: '[redacted]',
    },
  });
}

export type Logger = pino.Logger;

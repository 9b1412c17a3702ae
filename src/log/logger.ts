import { pino, type Logger } from 'pino';

export type { Logger };

// Decision lines name the request, never its body or query: bodies carry Env values, registry
// credentials and, on some daemons, `docker login` passwords. The redact list is a second guard.
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { name: 'docker-authz' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['RequestBody', 'ResponseBody', 'RequestHeaders', '*.RequestBody', '*.password', 'password', 'auth'], censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ dest: 1, sync: false, minLength: 0 }),
  );
}

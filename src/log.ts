// One JSON object per line on stdout: what journald, Loki and `jq` all read without a parser of their own.
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFields = Record<string, unknown>;

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  readonly level: LogLevel;
  isEnabled(level: Exclude<LogLevel, 'silent'>): boolean;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export type LogSink = (line: string) => void;
const stdoutSink: LogSink = (line) => process.stdout.write(line);

export function createLogger(level: LogLevel = 'info', base: LogFields = {}, sink: LogSink = stdoutSink): Logger {
  const threshold = rank[level];
  const write = (lvl: Exclude<LogLevel, 'silent'>, msg: string, fields?: LogFields): void => {
    if (rank[lvl] < threshold) return;
    sink(JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...base, ...fields }) + '\n');
  };
  return {
    level,
    isEnabled: (lvl) => rank[lvl] >= threshold,
    debug: (msg, fields) => write('debug', msg, fields),
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
    child: (fields) => createLogger(level, { ...base, ...fields }, sink),
  };
}

/** Error details for a log line: message and stack, never the raw object (which JSON.stringify turns into {}). */
export function errorFields(err: unknown): LogFields {
  if (err instanceof Error) return { err: err.message, err_name: err.name, stack: err.stack };
  return { err: String(err) };
}

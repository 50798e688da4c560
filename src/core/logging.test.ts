import { describe, expect, it } from 'vitest';
import { defaultLogLevel } from './logging.js';

describe('the default logger level', () => {
  it("is info (a plugin's ctx.log.info shows), or PGW_LOG_LEVEL, or the LOG_LEVEL most tools read", () => {
    expect(defaultLogLevel({})).toBe('info');
    expect(defaultLogLevel({ LOG_LEVEL: 'debug' })).toBe('debug');
    expect(defaultLogLevel({ LOG_LEVEL: 'WARN' })).toBe('warn');
    expect(defaultLogLevel({ PGW_LOG_LEVEL: 'error', LOG_LEVEL: 'debug' })).toBe('error');
    expect(defaultLogLevel({ PGW_LOG_LEVEL: '', LOG_LEVEL: 'debug' })).toBe('debug');
  });

  it('refuses a PGW_LOG_LEVEL pino does not have; passes over a LOG_LEVEL of another tool', () => {
    expect(() => defaultLogLevel({ PGW_LOG_LEVEL: 'verbose' })).toThrow(
      expect.objectContaining({
        code: 'PGW_ERR_INVALID_ARGUMENT',
        message: expect.stringContaining('`PGW_LOG_LEVEL`') as string,
      }),
    );
    expect(defaultLogLevel({ LOG_LEVEL: 'verbose' })).toBe('info');
  });
});

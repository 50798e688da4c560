import { describe, expect, it } from 'vitest';
import { PluginMetricsRecorder } from '../mesh/metrics.js';
import { baselineOf, judgeCanary, resolveCanary } from './canary.js';
import { VersionHistory } from './versions.js';

const margin = { errorRate: 0.05, p99: 3, minRequests: 20 };

function served(count: number, errors: number, ms = 1): PluginMetricsRecorder {
  const m = new PluginMetricsRecorder();
  for (let i = 0; i < count; i++) m.record(i < errors ? 500 : 200, ms);
  return m;
}

describe('the canary verdict', () => {
  it('gives no verdict before the canary answered minRequests', () => {
    const next = served(19, 19);
    const previous = served(100, 0);
    const { worse, figures } = judgeCanary(
      { metrics: previous, baseline: { requests: 0, errors: 0 } },
      { metrics: next, baseline: { requests: 0, errors: 0 } },
      margin,
    );
    expect(worse).toBeUndefined();
    expect(figures.requests).toEqual({ previous: 100, next: 19 });
  });

  it('loses on an error rate above the previous one by more than the margin, counted from the baselines', () => {
    const previous = served(100, 50);
    const base = baselineOf(previous);
    for (let i = 0; i < 100; i++) previous.record(200, 1);
    const next = served(40, 4);
    const verdict = judgeCanary(
      { metrics: previous, baseline: base },
      { metrics: next, baseline: { requests: 0, errors: 0 } },
      margin,
    );
    expect(verdict.worse).toBe('error rate');
    expect(verdict.figures.errorRate).toEqual({ previous: 0, next: 0.1 });
    // Within the margin: 2 errors in 40 is 0.05, not more than 0 + 0.05.
    const close = judgeCanary(
      { metrics: previous, baseline: base },
      { metrics: served(40, 2), baseline: { requests: 0, errors: 0 } },
      margin,
    );
    expect(close.worse).toBeUndefined();
  });

  it('loses on a p99 above margin × the previous one plus 10 ms', () => {
    const zero = { requests: 0, errors: 0 };
    const slow = judgeCanary(
      { metrics: served(50, 0, 5), baseline: zero },
      { metrics: served(50, 0, 40), baseline: zero },
      margin,
    );
    expect(slow.worse).toBe('p99');
    const fine = judgeCanary(
      { metrics: served(50, 0, 5), baseline: zero },
      { metrics: served(50, 0, 20), baseline: zero },
      margin,
    );
    expect(fine.worse).toBeUndefined();
  });

  it('refuses a canary that is not one', () => {
    expect(() => resolveCanary({ share: 0, window: '10s' })).toThrow(/share/);
    expect(() => resolveCanary({ share: 0.1, window: 'soon' })).toThrow(/window/);
    expect(() => resolveCanary({ share: 0.1, steps: 1.5, window: 10 })).toThrow(/steps/);
    expect(resolveCanary({ share: 0.1, window: '2s' })).toMatchObject({ steps: 1, windowMs: 2000 });
  });
});

describe('VersionHistory', () => {
  it('keeps the versions in order and finds the last good one', () => {
    const h = new VersionHistory();
    const r = (version: string) => ({
      version,
      hash: `h${version}`,
      dir: `/p/${version}`,
      trusted: true,
    });
    const v1 = h.add('p', { ...r('1'), outcome: 'serving' });
    h.settle('p', v1, 'replaced');
    const v2 = h.add('p', { ...r('2'), outcome: 'serving' });
    h.add('p', { ...r('3'), outcome: 'failed', reason: 'start' });
    expect(h.of('p').map((x) => [x.version, x.outcome])).toEqual([
      ['1', 'replaced'],
      ['2', 'serving'],
      ['3', 'failed'],
    ]);
    expect(h.serving('p')?.version).toBe('2');
    expect(h.lastGood('p', h.serving('p'))?.version).toBe('1');
    h.settle('p', h.serving('p')!, 'rolled-back', 'crash loop');
    expect(h.find('p', '2')).toMatchObject({ outcome: 'rolled-back', reason: 'crash loop' });
    expect(Object.isFrozen(h.of('p'))).toBe(true);
    void v2;
  });
});

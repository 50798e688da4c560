import { describe, expect, it } from 'vitest';
import { LineBudget } from './line-budget.js';

describe('LineBudget', () => {
  it('lets perSecond lines through a window, counts the rest, and says the count with the next window', () => {
    const budget = new LineBudget(3);
    const first = [0, 1, 2, 3, 4].map((t) => budget.take(1000 + t));
    expect(first.map((r) => r.ok)).toEqual([true, true, true, false, false]);
    expect(budget.take(2000)).toEqual({ ok: true, dropped: 2 });
    expect(budget.take(2001)).toEqual({ ok: true, dropped: 0 });
  });
});

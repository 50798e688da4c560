/**
 * Combining health answers: several threads or instances of one plugin report as the worst of them.
 * @module
 */
import type { HealthStatus } from './types.js';

const SEVERITY: Record<HealthStatus['status'], number> = { healthy: 0, degraded: 1, unhealthy: 2 };

/** The worst of several health answers (unhealthy over degraded over healthy). */
export function worstHealth(answers: readonly HealthStatus[]): HealthStatus {
  return answers.reduce((worst, h) => (SEVERITY[h.status] > SEVERITY[worst.status] ? h : worst));
}

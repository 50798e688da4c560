import { definePlugin } from '@veza/plugin-gateway/sdk';
import { TRACK_BY_ID } from '../../data/catalog.js';

/** trackId → { plays, skips, listeners: Set, seconds: number[] } (per worker thread). */
const stats = new Map();

function statsOf(trackId) {
  let s = stats.get(trackId);
  if (!s) stats.set(trackId, (s = { plays: 0, skips: 0, listeners: new Set(), seconds: [] }));
  return s;
}

function median(values) {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function summary(trackId) {
  const s = statsOf(trackId);
  const total = s.plays + s.skips;
  return {
    trackId,
    title: TRACK_BY_ID.get(trackId)?.title,
    plays: s.plays,
    skips: s.skips,
    skipRate: total === 0 ? 0 : Math.round((s.skips / total) * 100) / 100,
    uniqueListeners: s.listeners.size,
    medianSecondsListened: median(s.seconds),
  };
}

export default definePlugin({
  handleEvent(event) {
    const trackId = event.payload?.trackId;
    if (!TRACK_BY_ID.has(trackId)) return;
    const s = statsOf(trackId);
    if (event.type === 'track.played') s.plays++;
    else if (event.type === 'track.skipped') s.skips++;
    else return;
    if (event.userId != null) s.listeners.add(event.userId);
    if (typeof event.payload.seconds === 'number') s.seconds.push(event.payload.seconds);
  },

  routes: {
    'GET /analytics/tracks/{track_id}': (req) => {
      const trackId = Number(req.params.track_id);
      if (!TRACK_BY_ID.has(trackId))
        return { statusCode: 404, body: { error: `unknown track ${req.params.track_id}` } };
      return { statusCode: 200, body: summary(trackId) };
    },

    'GET /analytics/top': (req) => {
      const limit = Math.min(10, Math.max(1, Number(req.query.limit ?? 3)));
      const top = [...stats.keys()]
        .map(summary)
        .sort((a, b) => b.plays - a.plays || a.skipRate - b.skipRate);
      return { statusCode: 200, body: top.slice(0, limit) };
    },
  },
});

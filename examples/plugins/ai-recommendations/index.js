import { definePlugin, sse } from '@veza/plugin-gateway/sdk';
import { TRACKS, TRACK_BY_ID } from '../../data/catalog.js';

/** userId → Map(trackId → plays). State is per worker thread: a real plugin keeps it in a store. */
const history = new Map();
const popularity = new Map();

function recordPlay(userId, trackId) {
  if (!TRACK_BY_ID.has(trackId)) return false;
  const plays = history.get(userId) ?? new Map();
  plays.set(trackId, (plays.get(trackId) ?? 0) + 1);
  history.set(userId, plays);
  popularity.set(trackId, (popularity.get(trackId) ?? 0) + 1);
  return true;
}

/** A listener's taste: how often each tag and genre appears in what they played. */
function tasteOf(plays) {
  const taste = new Map();
  for (const [trackId, count] of plays) {
    const track = TRACK_BY_ID.get(trackId);
    for (const feature of [`genre:${track.genre}`, ...track.tags.map((t) => `tag:${t}`)]) {
      taste.set(feature, (taste.get(feature) ?? 0) + count);
    }
  }
  return taste;
}

function cosine(taste, track) {
  const features = [`genre:${track.genre}`, ...track.tags.map((t) => `tag:${t}`)];
  let dot = 0;
  for (const f of features) dot += taste.get(f) ?? 0;
  let norm = 0;
  for (const v of taste.values()) norm += v * v;
  return norm === 0 ? 0 : dot / (Math.sqrt(norm) * Math.sqrt(features.length));
}

function recommend(userId, limit, useModel) {
  const plays = history.get(userId) ?? new Map();
  const taste = tasteOf(plays);
  return TRACKS.filter((t) => !plays.has(t.id))
    .map((t) => ({
      track: t,
      score: useModel && taste.size > 0 ? cosine(taste, t) : (popularity.get(t.id) ?? 0),
    }))
    .sort((a, b) => b.score - a.score || a.track.id - b.track.id)
    .slice(0, limit)
    .map(({ track, score }) => ({
      id: track.id,
      title: track.title,
      artist: track.artist,
      score: Math.round(score * 1000) / 1000,
    }));
}

export default definePlugin({
  healthCheck() {
    return { status: 'healthy', details: { listeners: history.size } };
  },

  async handleEvent(event) {
    recordPlay(event.userId, event.payload?.trackId);
  },

  routes: {
    'GET /recommendations': (req, ctx) => {
      const limit = Math.min(10, Math.max(1, Number(req.query.limit ?? 3)));
      const model = ctx.flags.enable_ml_model ? 'tag-similarity' : 'popularity';
      return {
        statusCode: 200,
        body: {
          userId: req.userId,
          model,
          items: recommend(req.userId, limit, ctx.flags.enable_ml_model),
        },
      };
    },

    // Server-Sent Events: each recommendation as the model scores it, then `done`. A client that
    // reconnects with Last-Event-ID resumes after the rank it saw. (Streams run in the plugin's live
    // thread, whose state is its own, like every thread's.)
    'GET /recommendations/stream': (req, ctx) => {
      const limit = Math.min(10, Math.max(1, Number(req.query.limit ?? 5)));
      const after = Number(req.headers['last-event-id'] ?? 0) || 0;
      const items = recommend(req.userId, limit, ctx.flags.enable_ml_model);
      return sse(
        (async function* () {
          for (const [i, item] of items.entries()) {
            if (i + 1 <= after) continue;
            // The model's pace: a real one yields as it produces.
            await new Promise((r) => setTimeout(r, 10));
            yield { event: 'recommendation', id: i + 1, data: item };
          }
          yield { event: 'done', data: { count: items.length } };
        })(),
      );
    },

    'POST /recommendations/users/{user_id}/activity': (req, ctx) => {
      const userId = Number(req.params.user_id);
      if (userId !== req.userId) {
        return { statusCode: 403, body: { error: 'you can only record your own activity' } };
      }
      const trackId = Number(req.body?.trackId);
      if (!recordPlay(userId, trackId)) {
        return { statusCode: 400, body: { error: `unknown track ${req.body?.trackId}` } };
      }
      ctx.log.debug('activity recorded', { userId, trackId });
      return {
        statusCode: 201,
        body: { userId, trackId, plays: history.get(userId).get(trackId) },
      };
    },
  },
});

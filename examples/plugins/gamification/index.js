import { definePlugin } from '@veza/plugin-gateway/sdk';
import { TRACK_BY_ID } from '../../data/catalog.js';

/** The badges, each a rule over a listener's record. */
const BADGES = [
  { id: 'first-play', title: 'First play', earned: (p) => p.plays >= 1 },
  { id: 'regular', title: 'Ten plays', earned: (p) => p.plays >= 10 },
  { id: 'explorer', title: 'Three genres', earned: (p) => p.genres.size >= 3 },
];

/** userId → { points, plays, genres: Set, badges: string[] } (per worker thread). */
const players = new Map();

function playerOf(userId) {
  let p = players.get(userId);
  if (!p) players.set(userId, (p = { points: 0, plays: 0, genres: new Set(), badges: [] }));
  return p;
}

const view = (userId, p) => ({
  userId,
  points: p.points,
  plays: p.plays,
  genres: [...p.genres],
  badges: p.badges,
});

export default definePlugin({
  handleEvent(event, ctx) {
    const track = TRACK_BY_ID.get(event.payload?.trackId);
    if (!track || event.userId == null) return;
    const player = playerOf(event.userId);
    player.plays++;
    player.points += ctx.flags.double_points_weekend ? 2 : 1;
    player.genres.add(track.genre);
    for (const badge of BADGES) {
      if (player.badges.includes(badge.id) || !badge.earned(player)) continue;
      player.badges.push(badge.id);
      player.points += 5;
      ctx.publish({
        type: 'badge.awarded',
        userId: event.userId,
        payload: { badge: badge.id, title: badge.title },
      });
    }
  },

  routes: {
    'GET /gamification/users/{user_id}/profile': (req) => {
      const userId = Number(req.params.user_id);
      const player = players.get(userId);
      if (!player) return { statusCode: 404, body: { error: `no activity for user ${userId}` } };
      return { statusCode: 200, body: view(userId, player) };
    },

    'GET /gamification/leaderboard': () => ({
      statusCode: 200,
      body: [...players]
        .map(([userId, p]) => view(userId, p))
        .sort((a, b) => b.points - a.points || a.userId - b.userId)
        .map(({ userId, points, badges }, i) => ({
          rank: i + 1,
          userId,
          points,
          badges: badges.length,
        })),
    }),
  },
});

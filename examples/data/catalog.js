/**
 * A small music catalog shared by the example plugins: each track has a genre and mood tags.
 * A real deployment would read it from the catalog service; the examples keep it in code.
 */
export const TRACKS = [
  {
    id: 101,
    title: 'Midnight Drive',
    artist: 'Neon Coast',
    genre: 'synthwave',
    tags: ['night', 'driving', 'retro'],
  },
  {
    id: 102,
    title: 'Chrome Hearts',
    artist: 'Neon Coast',
    genre: 'synthwave',
    tags: ['retro', 'dance'],
  },
  {
    id: 103,
    title: 'Low Tide',
    artist: 'Mareé',
    genre: 'ambient',
    tags: ['calm', 'ocean', 'focus'],
  },
  { id: 104, title: 'Glass Garden', artist: 'Mareé', genre: 'ambient', tags: ['calm', 'focus'] },
  {
    id: 105,
    title: 'Brass Parade',
    artist: 'Les Cuivres',
    genre: 'jazz',
    tags: ['live', 'dance', 'brass'],
  },
  { id: 106, title: 'Blue Hour', artist: 'Quartet 9', genre: 'jazz', tags: ['night', 'calm'] },
  { id: 107, title: 'Overdrive', artist: 'Static Kids', genre: 'rock', tags: ['driving', 'loud'] },
  {
    id: 108,
    title: 'Paper Planes',
    artist: 'Static Kids',
    genre: 'rock',
    tags: ['retro', 'loud', 'live'],
  },
  {
    id: 109,
    title: 'Sunday Sketch',
    artist: 'Ana Lune',
    genre: 'lofi',
    tags: ['focus', 'calm', 'retro'],
  },
  { id: 110, title: 'Tape Hiss', artist: 'Ana Lune', genre: 'lofi', tags: ['focus', 'night'] },
];

export const TRACK_BY_ID = new Map(TRACKS.map((t) => [t.id, t]));

import { definePlugin } from '@veza/plugin-gateway/sdk';

/**
 * Rooms of the live thread: room → its playlist and who is in it. Every connection of the plugin
 * instance lives in this one thread, so this state is the room's.
 */
const rooms = new Map();

function roomOf(name) {
  let room = rooms.get(name);
  if (!room) rooms.set(name, (room = { tracks: [], version: 0, present: new Map() }));
  return room;
}

const json = (value) => JSON.stringify(value);

/** Applies one edit to the playlist; returns an error message for an edit that makes no sense. */
function apply(room, edit) {
  if (edit.op === 'add' && Number.isInteger(edit.trackId)) {
    room.tracks.splice(
      Math.min(edit.at ?? room.tracks.length, room.tracks.length),
      0,
      edit.trackId,
    );
  } else if (edit.op === 'remove' && Number.isInteger(edit.at) && edit.at < room.tracks.length) {
    room.tracks.splice(edit.at, 1);
  } else {
    return 'an edit is { op: "add", trackId, at? } or { op: "remove", at }';
  }
  room.version++;
  return undefined;
}

export default definePlugin({
  websockets: {
    'GET /collab/{room}': {
      open(ws) {
        const name = ws.request.params.room;
        const room = roomOf(name);
        ws.data.room = name;
        ws.data.user = ws.request.userId;
        room.present.set(ws.id, ws.data.user);
        ws.subscribe(name);
        ws.send(
          json({
            type: 'welcome',
            room: name,
            you: ws.data.user,
            present: [...new Set(room.present.values())],
            playlist: { tracks: room.tracks, version: room.version },
          }),
        );
        ws.publish(name, json({ type: 'joined', user: ws.data.user }));
      },

      message(ws, message, ctx) {
        let msg;
        try {
          msg = JSON.parse(typeof message === 'string' ? message : '');
        } catch {
          return ws.send(json({ type: 'error', message: 'messages are JSON objects' }));
        }
        if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
          return ws.send(json({ type: 'error', message: 'messages are JSON objects' }));
        }
        const room = roomOf(ws.data.room);
        if (msg.type === 'edit') {
          const problem = apply(room, msg);
          if (problem) return ws.send(json({ type: 'error', message: problem }));
          ctx.log.debug('playlist edited', { room: ws.data.room, version: room.version });
          const edit = { type: 'edit', user: ws.data.user, edit: msg, version: room.version };
          ws.send(json({ type: 'ack', version: room.version }));
          return ws.publish(ws.data.room, json(edit));
        }
        // Anything else (a cursor, a chat line) goes to the room's other clients as it is, signed.
        ws.publish(ws.data.room, json({ ...msg, user: ws.data.user }));
      },

      close(ws) {
        const room = rooms.get(ws.data.room);
        if (!room) return;
        room.present.delete(ws.id);
        if (room.present.size === 0) rooms.delete(ws.data.room);
        else ws.publish(ws.data.room, json({ type: 'left', user: ws.data.user }));
      },
    },
  },
});

// Run with `npx veza plugin test` after building plugin.wasm (./build.sh, or `veza plugin validate` builds it): loads the plugin in a
// gateway of its own, with real threads, and calls its endpoints.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { testPlugin } from '@veza/plugin-gateway/testing';

test('POST /echo answers with the request it was given', async () => {
  const plugin = await testPlugin(import.meta.dirname);
  try {
    const res = await plugin.post('/echo', { hello: 'wasm' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.body.key, 'POST /echo');
    assert.deepEqual(res.body.request.body, { hello: 'wasm' });
  } finally {
    await plugin.close();
  }
});

test('GET /hits counts in the key/value store', async () => {
  const plugin = await testPlugin(import.meta.dirname);
  try {
    assert.deepEqual((await plugin.get('/hits')).body, { hits: 1 });
    assert.deepEqual((await plugin.get('/hits')).body, { hits: 2 });
  } finally {
    await plugin.close();
  }
});

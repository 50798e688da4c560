// Same echo as bench/echo-handler.ts, for a bare Piscina pool; with `loops`, the work route of
// bench/plugins/echo instead (bench/overhead.bench.ts).
export default (req) => {
  if (req.path === '/work') {
    let x = 0;
    for (let i = 0; i < req.body.loops; i++) x = (Math.imul(x, 31) + i) | 0;
    return { statusCode: 200, body: { x } };
  }
  return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: req.body };
};

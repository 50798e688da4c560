// Same echo as bench/echo-handler.ts, for a bare Piscina pool.
export default (req) => ({
  statusCode: 200,
  headers: { 'content-type': 'application/json' },
  body: req.body,
});

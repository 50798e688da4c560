import { definePlugin } from '../../src/sdk/index.js';

export const readme = definePlugin({
  routes: {
    'GET /hello/{name}': (req, ctx) => {
      const name = ctx.flags['shout'] ? req.params.name.toUpperCase() : req.params.name;
      ctx.log.info('greeting', { name });
      return { statusCode: 200, body: { hello: name, page: req.query['page'] } };
    },
    'GET /users/{id}/posts/{post}': (req) => {
      const both: [string, string] = [req.params.id, req.params.post];
      // @ts-expect-error -- not a segment of this route: possibly undefined
      const other: string = req.params.name;
      return { statusCode: 200, body: { both, other } };
    },
  },
});

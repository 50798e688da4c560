// bench:wasm's AssemblyScript echo that parses its input and answers a response it builds, as the Go
// and Rust templates do (the template's echo hands its input back unparsed): the envelope decoded
// into classes with json-as, the response encoded from them. json-as 1.6.0 keeps an object in a
// JSON.Value field but reads a number or a string there as null: right for the bench's request (its
// body an object, no userId), not for a plugin.
import { Host } from '@extism/as-pdk';
import { JSON } from 'json-as';

@json
class Request {
  id: string = '';
  userId: JSON.Value = JSON.Value.empty();
  method: string = '';
  path: string = '';
  params: Map<string, string> = new Map<string, string>();
  query: JSON.Obj = new JSON.Obj();
  headers: JSON.Obj = new JSON.Obj();
  body: JSON.Value = JSON.Value.empty();
}

@json
class HandleInput {
  @optional key: string = '';
  @optional request: Request = new Request();
}

@json
class Echoed {
  key: string = '';
  request: Request = new Request();
}

@json
class Response {
  statusCode: i32 = 200;
  headers: Map<string, string> = new Map<string, string>();
  body: Echoed = new Echoed();
}

export function handle(): i32 {
  const input = JSON.parse<HandleInput>(Host.inputString());
  const res = new Response();
  if (input.key == 'POST /echo') {
    res.headers.set('content-type', 'application/json');
    res.body.key = input.key;
    res.body.request = input.request;
  } else {
    res.statusCode = 404;
  }
  Host.outputString(JSON.stringify(res));
  return 0;
}

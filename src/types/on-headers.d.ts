// on-headers (jshttp) ships no types: it calls `listener` with `this` = the response, just before its headers are written.
declare module "on-headers" {
  import type { ServerResponse } from "node:http";
  function onHeaders(res: ServerResponse, listener: (this: ServerResponse) => void): void;
  export default onHeaders;
}

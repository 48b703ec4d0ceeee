// `express4` is Express 4 installed under an alias (`npm:express@^4`) so the tests can run
// the same assertions against Express 4 and 5. The tests use only API both versions share,
// so Express 5's typings describe it well enough; @types/express@4 would drag a second
// @types/express-serve-static-core into the tree for no gain.
declare module 'express4' {
  import express from 'express';
  export default express;
}

/**
 * The `switchyard-cli` column: the real `switchyard` command (dist/cli.js) with its own
 * server, preloaded with this module (`node --import`) so it speaks column.mjs's IPC
 * protocol: `ready` with the port from its start-up summary, `snap`, `exit`. Everything
 * else is the command as users run it (`--quiet`: no request log lines on the bench's stdout).
 */
let ready = false;
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = (chunk, ...rest) => {
  const port = ready ? undefined : /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(String(chunk))?.[1];
  if (port !== undefined) {
    ready = true;
    process.send({ type: 'ready', port: Number(port), notes: [] });
    return true;
  }
  return write(chunk, ...rest);
};

process.on('message', (msg) => {
  if (msg?.type === 'snap') {
    process.send({ type: 'snap', cpu: process.cpuUsage(), maxRss: process.resourceUsage().maxRSS * 1024, rss: process.memoryUsage.rss() });
  } else if (msg?.type === 'exit') process.exit(0);
});
process.on('disconnect', () => process.exit(0));

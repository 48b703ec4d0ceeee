/**
 * What switchyard tells the outside world, without a logger dependency: `node:diagnostics_channel`
 * channels carrying plain objects, and `NODE_DEBUG=switchyard` lines through `util.debuglog`.
 * Every publish is guarded by `hasSubscribers` and every debug line by `debug.enabled`, so
 * with nobody listening a request pays a few property reads and builds no message.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { debuglog } from 'node:util';

export const requestStart = diagnosticsChannel.channel('switchyard:request:start');
export const attemptStart = diagnosticsChannel.channel('switchyard:attempt:start');
export const attemptEnd = diagnosticsChannel.channel('switchyard:attempt:end');
export const requestEnd = diagnosticsChannel.channel('switchyard:request:end');
export const healthChange = diagnosticsChannel.channel('switchyard:health:change');

/** `NODE_DEBUG=switchyard` lines; check `debug.enabled` before building a message. */
export const debug = debuglog('switchyard');

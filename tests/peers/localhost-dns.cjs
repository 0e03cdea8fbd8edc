// Preloaded into Node test tools (NODE_OPTIONS=--require …) so that `*.localhost` names resolve
// to the loopback address, as browsers resolve them; this machine's resolver does not. Trellis
// tells trusts apart by host name, so a client must reach `northmoor.localhost:PORT`.
'use strict';
const dns = require('node:dns');
const original = dns.lookup;
function lookup(hostname, options, callback) {
  if (typeof options === 'function') { callback = options; options = {}; }
  const name = String(hostname || '').toLowerCase();
  if (name === 'localhost' || name.endsWith('.localhost')) {
    const all = typeof options === 'object' && options && options.all;
    return process.nextTick(() => all ? callback(null, [{ address: '127.0.0.1', family: 4 }]) : callback(null, '127.0.0.1', 4));
  }
  return original.call(dns, hostname, options, callback);
}
dns.lookup = lookup;

// Preload for the TypeScript SDK's example servers in tests/it/peers_e2e.rs (`node --require`):
// the examples call `app.listen(port)`, which binds every interface; this makes a listen
// without a host bind 127.0.0.1 only, so the auto-approving demo authorization server is never
// reachable from another machine while the tests run.
'use strict';
const net = require('node:net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
    if ((typeof args[0] === 'number' || typeof args[0] === 'string') && /^\d+$/.test(String(args[0]))) {
        const [port, maybeHost, ...rest] = args;
        if (typeof maybeHost !== 'string') {
            return listen.call(this, Number(port), '127.0.0.1', ...(maybeHost === undefined ? rest : [maybeHost, ...rest]));
        }
    }
    return listen.apply(this, args);
};

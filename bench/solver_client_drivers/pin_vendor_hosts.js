// Preloaded with NODE_OPTIONS=--require: the solving services' host names resolve to loopback (what the bots'
// /etc/hosts line does) and their port 443 is the test's nginx port (what nginx listening on :443 does), in this
// process only. PIN_HOSTS: the names, comma-separated; PIN_PORT: nginx's TLS port.
"use strict";
const dns = require("dns");
const tls = require("tls");

const hosts = new Set((process.env.PIN_HOSTS || "").split(",").filter(Boolean));
const port = Number(process.env.PIN_PORT);

const lookup = dns.lookup;
dns.lookup = function pinnedLookup(hostname, options, callback) {
    if (!hosts.has(hostname)) return lookup.apply(this, arguments);
    if (typeof options === "function") [callback, options] = [options, {}];
    if (typeof options === "number") options = { family: options };
    const address = { address: "127.0.0.1", family: 4 };
    process.nextTick(() => (options && options.all ? callback(null, [address]) : callback(null, address.address, address.family)));
};

const connect = tls.connect;
tls.connect = function pinnedConnect(...args) {
    const options = args.find((argument) => argument && typeof argument === "object");
    if (options && hosts.has(options.host || options.servername) && Number(options.port || 443) === 443) {
        options.servername = options.servername || options.host;
        options.port = port;
    }
    return connect.apply(this, args);
};

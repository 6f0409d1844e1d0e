// Start the open-source Portkey gateway (npm @portkey-ai/gateway) on the loopback interface only.
//
//   node tests/connectors/start_portkey_gateway.mjs --port=8787
//
// The gateway's own start script listens on every interface; tests and benchmarks must not, so
// the listen call is pinned to 127.0.0.1 before the gateway is loaded.
import net from "node:net";

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === "number") {
    const callbacks = args.slice(1).filter((arg) => typeof arg === "function");
    args = [args[0], "127.0.0.1", ...callbacks];
  }
  return listen.apply(this, args);
};

if (!process.argv.includes("--headless")) {
  process.argv.push("--headless");
}
await import("@portkey-ai/gateway/build/start-server.js");

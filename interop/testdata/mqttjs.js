// An MQTT.js 5 client for the listener tests, run with Node.js.
//
//   node mqttjs.js MODULES sub URL --topic FILTER [--qos Q] [--count N] [--cafile CA] [--v5]
//   node mqttjs.js MODULES pub URL --topic T --payload X [--qos Q] [--cafile CA] [--v5]
//
// MODULES is the node_modules directory mqtt is installed in (npm install
// --prefix interop/node mqtt@5); URL is ws://, wss://, mqtt:// or mqtts://.
// --cafile verifies the broker's certificate with that CA.
//
// It prints one line per event, so the Go test can wait for each:
//
//   CONNECTED <session present 0|1>
//   SUBSCRIBED <granted QoS>
//   MSG <topic> <payload>
//   PUBLISHED
//   ERROR <what failed>   (and exit status 2)
//   DONE
"use strict";

const fs = require("fs");
const path = require("path");

function usage() {
	console.error("usage: node mqttjs.js MODULES sub|pub URL --topic T [--payload X] [--qos Q] [--count N] [--cafile CA] [--v5]");
	process.exit(64);
}

const [modules, mode, url, ...rest] = process.argv.slice(2);
if (!modules || !["sub", "pub"].includes(mode) || !url) usage();
const args = { topic: "", payload: "", qos: 0, count: 1, cafile: "", v5: false };
for (let i = 0; i < rest.length; i++) {
	const a = rest[i];
	if (a === "--v5") {
		args.v5 = true;
		continue;
	}
	const name = a.replace(/^--/, "");
	if (!(name in args) || i + 1 >= rest.length) usage();
	const v = rest[++i];
	args[name] = typeof args[name] === "number" ? Number(v) : v;
}

const mqtt = require(path.join(path.resolve(modules), "mqtt"));

const opts = {
	protocolVersion: args.v5 ? 5 : 4,
	reconnectPeriod: 0, // fail instead of retrying
	connectTimeout: 10000,
};
if (args.cafile) opts.ca = fs.readFileSync(args.cafile);

const client = mqtt.connect(url, opts);
let received = 0;

function fail(what) {
	console.log("ERROR", what);
	process.exit(2);
}

function done() {
	client.end(false, () => {
		console.log("DONE");
		process.exit(0);
	});
}

client.on("error", (err) => fail(err.message));
client.on("close", () => {
	if (!client.disconnecting) fail("connection closed");
});
client.on("connect", (ack) => {
	console.log("CONNECTED", ack.sessionPresent ? 1 : 0);
	if (mode === "pub") {
		client.publish(args.topic, args.payload, { qos: args.qos }, (err) => {
			if (err) fail("publish: " + err.message);
			console.log("PUBLISHED");
			done();
		});
		return;
	}
	client.subscribe(args.topic, { qos: args.qos }, (err, granted) => {
		if (err) fail("subscribe: " + err.message);
		console.log("SUBSCRIBED", granted.map((g) => g.qos).join(","));
	});
});
client.on("message", (topic, payload) => {
	console.log("MSG", topic, payload.toString());
	if (++received >= args.count) done();
});

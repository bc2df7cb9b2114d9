// Starts the fauxqs SQS emulator bound to loopback only. fauxqs's own CLI and
// startFauxqs() listen on 0.0.0.0, so this calls buildApp and listens itself.
// Run by infra/local/sqs.sh from its install dir (next to node_modules).
//
// Environment: FAUXQS_PORT (required), NECTAR_SQS_LOG=true for request logs.
// State is in memory only: a restart loses every queue and message.
import { buildApp } from "fauxqs";

const port = Number.parseInt(process.env.FAUXQS_PORT ?? "", 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
	console.error(`server.mjs: FAUXQS_PORT must be a TCP port, got ${JSON.stringify(process.env.FAUXQS_PORT)}`);
	process.exit(2);
}

const app = buildApp({ logger: process.env.NECTAR_SQS_LOG === "true" });
const address = await app.listen({ port, host: "127.0.0.1" });
console.log(`fauxqs listening on ${address} (pid ${process.pid})`);

let closing = false;
for (const signal of ["SIGTERM", "SIGINT"]) {
	process.on(signal, async () => {
		if (closing) return;
		closing = true;
		try {
			await app.close();
		} finally {
			process.exit(0);
		}
	});
}

// Starts the fauxqs SQS emulator bound to loopback only. fauxqs's own CLI and
// startFauxqs() listen on 0.0.0.0, so this builds the app and listens itself.
// Run by infra/local/sqs.sh from its install dir (next to node_modules).
//
// Environment:
//   FAUXQS_PORT      (required) the TCP port on 127.0.0.1
//   FAUXQS_DATA_DIR  (optional) keep queues and messages in SQLite
//                    (DATA_DIR/fauxqs.db) so that a restart loses nothing;
//                    without it, state is in memory only
//   NECTAR_SQS_LOG=true  request logs
//
// Persistence does what fauxqs's startFauxqs() does with its dataDir option
// (dist/app.js): stores are created here, the PersistenceManager loads the
// saved state into them first, and only then is it wired into the stores and
// the loaded queues (wiring it earlier would re-write every loaded row). The
// internals are imported by file path: the package's "exports" field only
// restricts bare specifiers. They match fauxqs 2.4.1 (package-lock.json).
import { buildApp } from "./node_modules/fauxqs/dist/app.js";
import { PersistenceManager } from "./node_modules/fauxqs/dist/persistence.js";
import { SqsStore } from "./node_modules/fauxqs/dist/sqs/sqsStore.js";
import { SnsStore } from "./node_modules/fauxqs/dist/sns/snsStore.js";
import { S3Store } from "./node_modules/fauxqs/dist/s3/s3Store.js";

const host = "127.0.0.1";
const port = Number.parseInt(process.env.FAUXQS_PORT ?? "", 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
	console.error(`server.mjs: FAUXQS_PORT must be a TCP port, got ${JSON.stringify(process.env.FAUXQS_PORT)}`);
	process.exit(2);
}
const dataDir = process.env.FAUXQS_DATA_DIR || undefined;

const sqsStore = new SqsStore();
const snsStore = new SnsStore();
const s3Store = new S3Store();
let persistence;
if (dataDir) {
	const started = Date.now();
	persistence = new PersistenceManager(dataDir);
	// fauxqs opens SQLite in WAL mode with the default synchronous=FULL: an
	// fsync per message. NORMAL keeps every committed write across a crash or
	// kill of this process (only an OS crash can lose the newest ones), which
	// is what an emulator restart needs, at a fraction of the cost.
	persistence.db.exec("PRAGMA synchronous = NORMAL");
	persistence.load(sqsStore, snsStore, s3Store);
	sqsStore.persistence = persistence;
	snsStore.persistence = persistence;
	s3Store.persistence = persistence;
	let queues = 0;
	for (const queue of sqsStore.allQueues()) {
		queue.persistence = persistence;
		queues++;
	}
	console.log(`fauxqs state in ${dataDir}: ${queues} queue(s) loaded in ${Date.now() - started} ms`);
}

const app = buildApp({ logger: process.env.NECTAR_SQS_LOG === "true", stores: { sqsStore, snsStore, s3Store } });
if (persistence) {
	app.addHook("preClose", () => {
		persistence.close();
	});
}
const address = await app.listen({ port, host });
console.log(`fauxqs listening on ${address} (pid ${process.pid}, ${dataDir ? "persistent" : "in memory"})`);

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

'use strict';
/*
 * autoctrl's SQLite checkpointer, a worker thread of the controller
 * (src/store/sqlite/checkpointer.ts): copies the write-ahead log into the
 * database file on a connection of its own, so that the controller's thread
 * never stalls in a checkpoint (10,000 pages took it 60 ms). Plain
 * JavaScript: a worker thread does not get the test runner's TypeScript
 * loader. workerData: { path, driver (better-sqlite3's resolved path), everyMs }.
 * Any message means stop: one last checkpoint, then the connection closes.
 */
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);

let db;
try {
  db = new Database(workerData.path, { fileMustExist: true });
  // A checkpoint waits for no one (PASSIVE); this only covers opening beside a writer.
  db.pragma('busy_timeout = 1000');
} catch (err) {
  // Gone already (a store closed and removed at once): nothing to checkpoint.
  parentPort.postMessage({ error: err instanceof Error ? err.message : String(err) });
  parentPort.close();
}
if (db !== undefined) start();

function checkpoint() {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (err) {
    parentPort.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
}

function start() {
  const timer = setInterval(checkpoint, workerData.everyMs);
  parentPort.once('message', () => {
    clearInterval(timer);
    checkpoint();
    db.close();
    parentPort.close();
  });
}

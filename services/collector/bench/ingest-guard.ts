/**
 * Preloaded (`--import`) into the collector that bench/ingest.ts starts: when the bench goes
 * away, killed or not, the collector is stopped as an orchestrator would stop it (SIGTERM).
 * The IPC channel does not keep the collector alive by itself.
 */
process.channel?.unref();
process.on('disconnect', () => {
  process.kill(process.pid, 'SIGTERM');
});

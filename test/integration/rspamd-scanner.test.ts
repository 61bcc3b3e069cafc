import { RspamdScanner } from '../../infra/scanning/index.js';
import { messageScannerContract } from '../contract/message-scanner.contract.js';
import { startRspamd } from '../helpers/rspamd.js';

const limits = { timeoutMs: 10_000, maxMessageBytes: 1024 * 1024 };

messageScannerContract('rspamd', async () => {
  const daemon = await startRspamd();
  return {
    kind: 'spam',
    scanner: new RspamdScanner(daemon.url, limits),
    scannerAt: (port, l) => new RspamdScanner(`http://127.0.0.1:${port}`, l),
    stopDaemon: () => daemon.stop(),
    teardown: () => daemon.stop(),
  };
});

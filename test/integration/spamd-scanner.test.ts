import { SpamdScanner } from '../../infra/scanning/index.js';
import { messageScannerContract } from '../contract/message-scanner.contract.js';
import { startSpamd } from '../helpers/spamd.js';

const limits = { timeoutMs: 20_000, maxMessageBytes: 1024 * 1024 };

messageScannerContract('spamassassin (spamd)', async () => {
  const daemon = await startSpamd();
  return {
    kind: 'spam',
    scanner: new SpamdScanner({ host: '127.0.0.1', port: daemon.port }, limits),
    scannerAt: (port, l) => new SpamdScanner({ host: '127.0.0.1', port }, l),
    stopDaemon: () => daemon.stop(),
    teardown: () => daemon.stop(),
  };
});

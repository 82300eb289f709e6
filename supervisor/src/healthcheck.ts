// Container health check: exits 0 when the gRPC service at the given host:port reports SERVING.
import { checkHealth } from '@lab/common';

const address = process.argv[2];
if (!address) {
  process.stderr.write('usage: healthcheck.ts host:port\n');
  process.exit(2);
}
const status = await checkHealth(address, '', 3000);
process.stdout.write(`${address} ${status}\n`);
process.exit(status === 'SERVING' ? 0 : 1);

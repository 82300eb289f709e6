import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { callUnary, createClient, extractContext, initTelemetry } from '@lab/common';
import { TokenizeServiceClient } from '@lab/proto/tokenize';
import { entryPoints, freePort, waitForPort } from '@lab/supervisor';
import { context } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';

describe('OpenTelemetry export', () => {
  it('sends a service span over OTLP/HTTP that continues the caller trace, when OTEL_EXPORTER_OTLP_ENDPOINT is set', async () => {
    const bodies: string[] = [];
    const collector = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        if (req.url === '/v1/traces') bodies.push(body);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
    const otlpPort = (collector.address() as { port: number }).port;
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', entryPoints.tokenize], {
      env: {
        ...process.env,
        LAB_HOME: mkdtempSync(join(tmpdir(), 'lab-otel-')),
        LAB_TOKENIZE_PORT: String(port),
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${otlpPort}`,
      },
      stdio: 'ignore',
    });
    try {
      await waitForPort('127.0.0.1', port, 30_000);
      // The client side propagates through the registered W3C propagator, as the gateway does.
      await initTelemetry('test');
      const traceId = '5b8efff798038103d269b633813fc60c';
      const client = createClient(TokenizeServiceClient, `127.0.0.1:${port}`);
      await context.with(extractContext({ traceparent: `00-${traceId}-eee19b7ec3c1b174-01` }), () =>
        callUnary(client.encode.bind(client), {
          tokenizer: 'gpt2',
          text: 'traced',
          withTokens: false,
          allowedSpecial: [],
        }),
      );
      client.close();
      // Stopping the service flushes its batch of spans.
      await new Promise((r) => {
        child.once('exit', r);
        child.kill('SIGTERM');
      });
      const all = bodies.join('\n');
      expect(all).toContain('lab-tokenize');
      expect(all).toContain('/lab.v1.TokenizeService/Encode');
      expect(all.toLowerCase()).toContain(traceId);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      collector.close();
    }
  });
});

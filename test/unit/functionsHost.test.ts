import { describe, expect, it } from 'vitest';
import { devIssuerPorts } from '../../scripts/devIssuerFromSettings.js';
import { hostCommand, hostCommandLine, settingsProblem, unwrapWorkerConsole } from '../../scripts/functionsHost.js';
import { devIssuerSettings } from '../../src/dev-issuer/index.js';

describe('the real-host switch (FUNCTIONS_HOST_COMMAND)', () => {
  it('when the setting is unset or blank, then the local host serves', () => {
    expect(hostCommand({})).toBeUndefined();
    expect(hostCommand({ FUNCTIONS_HOST_COMMAND: '  ' })).toBeUndefined();
    expect(hostCommand({ FUNCTIONS_HOST_COMMAND: ' func start ' })).toBe('func start');
  });

  it("when the command is Core Tools' func start, then it serves the current folder and gets only the port", () => {
    expect(hostCommandLine('func start', '/srv/app', 7071)).toBe('exec func start --port 7071');
  });

  it('when the command is a launcher such as func-host, then it gets the app root (quoted) and the port', () => {
    expect(hostCommandLine('/opt/realhost/func-host', "/srv/it's app", 41000)).toBe("exec /opt/realhost/func-host '/srv/it'\\''s app' --port 41000");
  });

  it("when the real host wraps the worker's lines in console entries, then they read as the app printed them and the host's own entries stay", () => {
    const raw = [
      'info: Function.getCart[1]',
      "      Executing 'Functions.getCart' (Reason='...', Id=1)",
      'info: Host.Function.Console[0]',
      '      {"level":"info","msg":"request refused"}',
      'fail: Host.Function.Console[0]',
      '      {"level":"error","msg":"boom"}',
      'info: Function.getCart[2]',
      "      Executed 'Functions.getCart' (Succeeded, Id=1)",
      '',
    ].join('\n');
    expect(unwrapWorkerConsole(raw).split('\n')).toEqual([
      'info: Function.getCart[1]',
      "      Executing 'Functions.getCart' (Reason='...', Id=1)",
      '{"level":"info","msg":"request refused"}',
      '{"level":"error","msg":"boom"}',
      'info: Function.getCart[2]',
      "      Executed 'Functions.getCart' (Succeeded, Id=1)",
      '',
    ]);
  });
});

describe('what npm run dev and npm start check before they start a host', () => {
  const valid = {
    POSTGRES_URL: 'postgres://postgres:postgres@127.0.0.1:5432/shop',
    REDIS_URL: 'redis://127.0.0.1:6379',
    RABBITMQ_URL: 'amqp://guest:guest@127.0.0.1:5672',
    ...devIssuerSettings(),
  };

  it('when every setting is valid, then there is no problem; when one is malformed or missing, then the one line names it', () => {
    expect(settingsProblem(valid)).toBeUndefined();
    expect(settingsProblem({ ...valid, ENTRA_CLIENT_ID: 'not-a-guid' })).toBe('Setting ENTRA_CLIENT_ID is invalid (Invalid GUID)');
    expect(settingsProblem({ ...valid, REDIS_URL: undefined })).toBe('Setting REDIS_URL is missing');
  });

  it('when ENTRA_ISSUER and ENTRA_JWKS_URI name loopback ports, then the dev issuer listens there; otherwise on 7443/7444', () => {
    expect(devIssuerPorts(devIssuerSettings({ httpsPort: 17443, httpPort: 17444 }))).toEqual({ httpsPort: 17443, httpPort: 17444 });
    expect(devIssuerPorts({})).toEqual({ httpsPort: 7443, httpPort: 7444 });
    expect(devIssuerPorts({ ENTRA_ISSUER: 'https://login.microsoftonline.com/t/v2.0', ENTRA_JWKS_URI: 'not a url' })).toEqual({ httpsPort: 7443, httpPort: 7444 });
  });
});

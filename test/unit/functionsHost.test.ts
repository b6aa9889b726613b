import { describe, expect, it } from 'vitest';
import { hostCommand, hostCommandLine, unwrapWorkerConsole } from '../../scripts/functionsHost.js';

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

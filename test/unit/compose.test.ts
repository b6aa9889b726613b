import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, expect } from 'vitest';
import { parse } from 'yaml';

// Static checks of the local Docker stack (docker-compose.yml and observability/). No Docker engine is
// needed: CI has none, so `docker-compose config -q` is the deepest validation that can run there.

const root = fileURLToPath(new URL('../..', import.meta.url));
const observabilityDir = join(root, 'observability');

type Healthcheck = { test?: string[] | string; disable?: boolean };
type Service = {
  image?: string;
  profiles?: string[];
  ports?: (string | { target: number; published?: string | number; host_ip?: string })[];
  volumes?: (string | { type?: string; source?: string; target: string })[];
  healthcheck?: Healthcheck;
  depends_on?: string[] | Record<string, unknown>;
};
type Compose = { version?: unknown; services: Record<string, Service>; volumes?: Record<string, unknown> };

function readYaml<T>(path: string): T {
  return parse(readFileSync(path, 'utf8')) as T;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

const compose = readYaml<Compose>(join(root, 'docker-compose.yml'));
const services = compose.services;

function service(name: string): Service {
  const found = services[name];
  if (!found) throw new Error(`docker-compose.yml has no service "${name}"`);
  return found;
}

/** Host port -> container port for each published port of a service (short and long syntax). */
function publishedPorts(svc: Service): Map<number, number> {
  const ports = new Map<number, number>();
  for (const port of svc.ports ?? []) {
    if (typeof port === 'string') {
      const parts = port.split('/')[0]!.split(':');
      const container = Number(parts.at(-1));
      const host = parts.length >= 2 ? Number(parts.at(-2)) : container;
      ports.set(host, container);
    } else if (port.published !== undefined) {
      ports.set(Number(port.published), port.target);
    }
  }
  return ports;
}

/** Bind mounts of a service as {source relative to the repo root, target}. */
function bindMounts(svc: Service): { source: string; target: string }[] {
  return (svc.volumes ?? []).flatMap((volume) => {
    if (typeof volume === 'string') {
      const [source, target] = volume.split(':');
      return source && target && (source.startsWith('.') || source.startsWith('/')) ? [{ source: posix.normalize(source), target }] : [];
    }
    return volume.type === 'bind' && volume.source ? [{ source: posix.normalize(volume.source), target: volume.target }] : [];
  });
}

const coreServices = ['postgres', 'pgbouncer', 'redis', 'rabbitmq', 'azurite'];
const observabilityServices = ['otel-collector', 'tempo', 'loki', 'prometheus', 'grafana'];

describe('docker-compose.yml', () => {
  it('when parsed, then it is a Compose-spec file without the obsolete top-level version', () => {
    expect(compose).toHaveProperty('services');
    expect(compose.version).toBeUndefined();
  });

  it('when listing services, then the core services and RedisInsight run by default and the observability stack only under its profile', () => {
    for (const name of [...coreServices, 'redisinsight']) {
      expect(service(name).profiles ?? [], name).toEqual([]);
    }
    for (const name of observabilityServices) {
      expect(service(name).profiles, name).toEqual(['observability']);
    }
    expect(Object.keys(services).sort()).toEqual([...coreServices, 'redisinsight', ...observabilityServices].sort());
  });

  it('when a developer uses the contract defaults, then Postgres, Redis and RabbitMQ are published on their usual ports', () => {
    expect(publishedPorts(service('postgres')).get(5432)).toBe(5432);
    expect(publishedPorts(service('redis')).get(6379)).toBe(6379);
    expect(publishedPorts(service('rabbitmq')).get(5672)).toBe(5672);
    expect(publishedPorts(service('rabbitmq')).get(15672)).toBe(15672);
    for (const port of [10000, 10001, 10002]) expect(publishedPorts(service('azurite')).get(port)).toBe(port);
    expect(publishedPorts(service('redisinsight')).get(5540)).toBe(5540);
    expect(publishedPorts(service('grafana')).get(3000)).toBe(3000);
  });

  it('when the app exports OTLP to localhost, then the collector publishes 4317 (gRPC) and 4318 (HTTP)', () => {
    const ports = publishedPorts(service('otel-collector'));
    expect(ports.get(4317)).toBe(4317);
    expect(ports.get(4318)).toBe(4318);
  });

  it('when the stack is brought up with --wait, then every core service has a healthcheck', () => {
    const probes: Record<string, string> = { postgres: 'pg_isready', pgbouncer: '/dev/tcp/127.0.0.1/6432', redis: 'redis-cli', rabbitmq: 'rabbitmq-diagnostics', azurite: 'node' };
    for (const name of coreServices) {
      const check = service(name).healthcheck;
      expect(check?.disable, name).not.toBe(true);
      expect([check?.test ?? []].flat().join(' '), name).toContain(probes[name]);
    }
  });

  it('when the app and the tests reach Postgres, then PgBouncer is published on 6432 and runs the local configuration in front of the postgres service', () => {
    const pgbouncer = service('pgbouncer') as Service & { command: string[] };
    expect(publishedPorts(pgbouncer).get(6432)).toBe(6432);
    expect(pgbouncer.image).toMatch(/^debian:bookworm/);
    expect(bindMounts(pgbouncer)).toContainEqual({ source: 'scripts/pgbouncer.sh', target: '/scripts/pgbouncer.sh' });
    expect(pgbouncer.command.join(' ')).toMatch(/apt-get install [^&]*pgbouncer/);
    expect(pgbouncer.command.join(' ')).toContain('bash /scripts/pgbouncer.sh /var/lib/pgbouncer-local 6432 postgres 5432 0.0.0.0 --foreground');
    expect(Object.keys((pgbouncer.depends_on ?? {}) as Record<string, unknown>)).toEqual(['postgres']);
  });

  it('when the database is created, then it is ecommerce owned by postgres/postgres on Postgres 16', () => {
    const postgres = service('postgres') as Service & { environment: Record<string, string> };
    expect(postgres.image).toMatch(/^postgres:16/);
    expect(postgres.environment).toMatchObject({ POSTGRES_USER: 'postgres', POSTGRES_PASSWORD: 'postgres', POSTGRES_DB: 'ecommerce' });
  });

  it('when a named volume is used, then it is declared at the top level', () => {
    const declared = Object.keys(compose.volumes ?? {});
    for (const [name, svc] of Object.entries(services)) {
      for (const volume of svc.volumes ?? []) {
        const source = typeof volume === 'string' ? volume.split(':')[0]! : volume.source ?? '';
        if (source && !source.startsWith('.') && !source.startsWith('/')) expect(declared, `${name}: ${source}`).toContain(source);
      }
    }
  });

  it('when a config is mounted from observability/, then that file or folder exists', () => {
    const mounts = Object.values(services).flatMap(bindMounts).filter((m) => m.source.startsWith('observability/'));
    expect(mounts.length).toBeGreaterThanOrEqual(5);
    for (const { source } of mounts) expect(existsSync(join(root, source)), source).toBe(true);
  });

  it('when depends_on names a service, then that service exists', () => {
    for (const [name, svc] of Object.entries(services)) {
      const deps = Array.isArray(svc.depends_on) ? svc.depends_on : Object.keys(svc.depends_on ?? {});
      for (const dep of deps) expect(Object.keys(services), `${name} -> ${dep}`).toContain(dep);
    }
  });

  it('when docker-compose validates the file offline, then it reports no error', () => {
    const version = spawnSync('docker-compose', ['version'], { encoding: 'utf8' });
    if (version.error) {
      throw new Error(
        `docker-compose is not installed (${version.error.message}): install it to validate docker-compose.yml ` +
          '(Debian/Ubuntu: apt-get install docker-compose; CI installs it). This check needs no Docker engine.',
      );
    }
    for (const args of [['config', '-q'], ['--profile', 'observability', 'config', '-q']]) {
      const run = spawnSync('docker-compose', ['-f', 'docker-compose.yml', ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
      expect({ args: args.join(' '), status: run.status, stderr: run.stderr.trim() }).toEqual({ args: args.join(' '), status: 0, stderr: '' });
    }
  }, 120_000);
});

describe('observability/', () => {
  const files = filesUnder(observabilityDir);

  it('when every YAML and JSON file is parsed, then none is malformed or empty', () => {
    const configs = files.filter((f) => /\.(ya?ml|json)$/.test(f));
    expect(configs.map((f) => relative(observabilityDir, f).split('\\').join('/')).sort()).toEqual(
      [
        'grafana/dashboards/checkout-pipeline.json',
        'grafana/provisioning/dashboards/dashboards.yaml',
        'grafana/provisioning/datasources/datasources.yaml',
        'loki.yaml',
        'otel-collector.yaml',
        'prometheus.yml',
        'tempo.yaml',
      ].sort(),
    );
    for (const file of configs) {
      const text = readFileSync(file, 'utf8');
      const value: unknown = file.endsWith('.json') ? JSON.parse(text) : parse(text);
      expect(value, file).toBeTypeOf('object');
      expect(value, file).not.toBeNull();
    }
  });

  describe('otel-collector.yaml', () => {
    type Component = Record<string, unknown>;
    type Pipeline = { receivers?: string[]; processors?: string[]; exporters?: string[] };
    const collector = readYaml<{
      extensions?: Component;
      receivers: Component;
      processors?: Component;
      exporters: Component;
      service: { extensions?: string[]; pipelines: Record<string, Pipeline> };
    }>(join(observabilityDir, 'otel-collector.yaml'));
    const pipelines = collector.service.pipelines;

    it('when pipelines are read, then traces, metrics and logs each receive OTLP and export somewhere', () => {
      expect(Object.keys(pipelines).sort()).toEqual(['logs', 'metrics', 'traces']);
      for (const pipeline of Object.values(pipelines)) {
        expect(pipeline.receivers).toContain('otlp');
        expect(pipeline.exporters?.length).toBeGreaterThan(0);
      }
    });

    it('when a pipeline names a receiver, processor or exporter, then it is declared', () => {
      for (const [name, pipeline] of Object.entries(pipelines)) {
        for (const id of pipeline.receivers ?? []) expect(Object.keys(collector.receivers), `${name}: ${id}`).toContain(id);
        for (const id of pipeline.processors ?? []) expect(Object.keys(collector.processors ?? {}), `${name}: ${id}`).toContain(id);
        for (const id of pipeline.exporters ?? []) expect(Object.keys(collector.exporters), `${name}: ${id}`).toContain(id);
      }
      for (const id of collector.service.extensions ?? []) expect(Object.keys(collector.extensions ?? {})).toContain(id);
    });

    it('when signals are routed, then traces go to Tempo, metrics to the Prometheus exporter and logs to Loki OTLP', () => {
      const exporter = (id: string) => collector.exporters[id] as { endpoint?: string };
      expect(pipelines.traces!.exporters!.map((id) => exporter(id).endpoint)).toContain('tempo:4317');
      expect(pipelines.metrics!.exporters).toContain('prometheus');
      expect(pipelines.logs!.exporters!.map((id) => exporter(id).endpoint)).toContain('http://loki:3100/otlp');
    });

    it('when OTLP is received, then it listens on all interfaces, not the container loopback', () => {
      const protocols = (collector.receivers.otlp as { protocols: Record<string, { endpoint: string }> }).protocols;
      expect(protocols.grpc?.endpoint).toBe('0.0.0.0:4317');
      expect(protocols.http?.endpoint).toBe('0.0.0.0:4318');
    });

    it('when Prometheus scrapes, then it targets the collector exporter endpoint', () => {
      const prometheus = readYaml<{ scrape_configs: { static_configs: { targets: string[] }[] }[] }>(join(observabilityDir, 'prometheus.yml'));
      const port = (collector.exporters.prometheus as { endpoint: string }).endpoint.split(':').at(-1);
      const targets = prometheus.scrape_configs.flatMap((s) => s.static_configs.flatMap((c) => c.targets));
      expect(targets).toContain(`otel-collector:${port}`);
    });
  });

  it('when Loki receives OTLP logs, then structured metadata is allowed (Loki 3.x)', () => {
    const loki = readYaml<{ limits_config: { allow_structured_metadata: boolean }; schema_config: { configs: { schema: string }[] } }>(
      join(observabilityDir, 'loki.yaml'),
    );
    expect(loki.limits_config.allow_structured_metadata).toBe(true);
    expect(loki.schema_config.configs.at(-1)?.schema).toBe('v13');
  });

  describe('grafana', () => {
    type Datasource = { uid: string; type: string; jsonData?: Record<string, unknown> };
    const datasources = readYaml<{ datasources: Datasource[] }>(join(observabilityDir, 'grafana/provisioning/datasources/datasources.yaml')).datasources;
    const uids = datasources.map((d) => d.uid);
    const byType = (type: string) => datasources.find((d) => d.type === type)!;
    const dashboard = JSON.parse(readFileSync(join(observabilityDir, 'grafana/dashboards/checkout-pipeline.json'), 'utf8')) as Record<string, unknown>;

    /** Every `datasource: {uid}` object anywhere in the dashboard (panels, targets, rows). */
    function datasourceUids(node: unknown, found = new Set<string>()): Set<string> {
      if (Array.isArray(node)) node.forEach((child) => datasourceUids(child, found));
      else if (node && typeof node === 'object') {
        for (const [key, value] of Object.entries(node)) {
          if (key === 'datasource' && value && typeof value === 'object' && 'uid' in value) found.add(String(value.uid));
          datasourceUids(value, found);
        }
      }
      return found;
    }

    /** Every query string of the dashboard's targets (PromQL `expr`, LogQL `expr`, TraceQL `query`). */
    function queries(node: unknown, found: string[] = []): string[] {
      if (Array.isArray(node)) node.forEach((child) => queries(child, found));
      else if (node && typeof node === 'object') {
        const record = node as Record<string, unknown>;
        if (Array.isArray(record.targets)) {
          for (const t of record.targets as Record<string, unknown>[]) found.push(String(t.expr ?? t.query ?? ''));
        }
        Object.values(record).forEach((child) => queries(child, found));
      }
      return found;
    }

    it('when data sources are provisioned, then Prometheus, Tempo and Loki each have a fixed unique uid', () => {
      expect(datasources.map((d) => d.type).sort()).toEqual(['loki', 'prometheus', 'tempo']);
      for (const d of datasources) expect(d.uid, d.type).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
      expect(new Set(uids).size).toBe(uids.length);
    });

    it('when the dashboard refers to a data source, then that uid is provisioned', () => {
      const referenced = datasourceUids(dashboard);
      expect([...referenced].sort()).toEqual(['loki', 'prometheus', 'tempo']);
      for (const uid of referenced) expect(uids).toContain(uid);
    });

    it('when following trace -> logs -> trace, then each link points at a provisioned uid and matches on the trace id', () => {
      const tempo = byType('tempo').jsonData as { tracesToLogsV2: { datasourceUid: string; query: string }; serviceMap?: { datasourceUid: string } };
      expect(byType('loki').uid).toBe(tempo.tracesToLogsV2.datasourceUid);
      expect(tempo.tracesToLogsV2.query).toContain('trace_id=');
      if (tempo.serviceMap) expect(uids).toContain(tempo.serviceMap.datasourceUid);

      const derived = (byType('loki').jsonData as { derivedFields: { matcherRegex: string; datasourceUid: string }[] }).derivedFields;
      for (const field of derived) expect(field.datasourceUid).toBe(byType('tempo').uid);
      expect(derived.map((f) => f.matcherRegex).join(' ')).toMatch(/trace_id/);
      expect(derived.map((f) => f.matcherRegex).join(' ')).toMatch(/trace_\?\[iI\]d|traceid/i);

      const exemplars = (byType('prometheus').jsonData as { exemplarTraceIdDestinations: { datasourceUid: string }[] }).exemplarTraceIdDestinations;
      for (const destination of exemplars) expect(uids).toContain(destination.datasourceUid);
    });

    it('when provisioning literal ${...} links, then the dollar is escaped from Grafana env expansion', () => {
      const text = readFileSync(join(observabilityDir, 'grafana/provisioning/datasources/datasources.yaml'), 'utf8');
      expect(text).not.toMatch(/(?<!\$)\$\{__/);
    });

    it('when the dashboard queries metrics, then it covers every checkout metric and the HTTP server histogram in Prometheus form', () => {
      const all = queries(dashboard).join('\n');
      for (const series of [
        'shop_checkouts_accepted_total',
        'shop_orders_completed_total',
        'shop_checkout_duration_seconds_bucket',
        'shop_handler_failures_total',
        'shop_messages_deadlettered_total',
        'shop_outbox_backlog',
        'http_server_request_duration_seconds_bucket',
        'http_server_request_duration_seconds_count',
      ]) {
        expect(all, series).toContain(series);
      }
      expect(all).toMatch(/by \(status\)[^\n]*shop_orders_completed_total/);
      expect(all).toMatch(/by \(function\)[^\n]*shop_handler_failures_total/);
      expect(all).toMatch(/by \(queue\)[^\n]*shop_messages_deadlettered_total/);
      expect(all).toMatch(/by \(http_response_status_code\)/);
      expect(all).toMatch(/histogram_quantile\(0\.99,[^\n]*http_server_request_duration_seconds_bucket/);
      expect(all).toMatch(/histogram_quantile\(0\.50?,[^\n]*http_server_request_duration_seconds_bucket/);
    });

    it('when looking for traces and logs, then the dashboard searches Tempo and Loki for shop-functions', () => {
      const service = (dashboard.templating as { list: { name: string; query: string }[] }).list.find((v) => v.name === 'service');
      expect(service?.query).toBe('shop-functions');
      const all = queries(dashboard);
      expect(all).toContain('{resource.service.name="$service"}');
      expect(all.some((q) => q.startsWith('{service_name="$service"}'))).toBe(true);
    });

    it('when Grafana loads dashboards, then the provider path is where the compose file mounts this folder', () => {
      const provider = readYaml<{ providers: { options: { path: string } }[] }>(join(observabilityDir, 'grafana/provisioning/dashboards/dashboards.yaml')).providers[0]!;
      const mount = bindMounts(service('grafana')).find((m) => m.source === 'observability/grafana/dashboards');
      expect(mount?.target).toBe(provider.options.path);
    });
  });
});

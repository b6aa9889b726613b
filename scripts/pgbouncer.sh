#!/usr/bin/env bash
# scripts/pgbouncer.sh <state-dir> <listen-port> <postgres-host> <postgres-port> [listen-address] [--foreground]
# Writes a PgBouncer configuration into <state-dir> and starts Debian's `pgbouncer` with it, forwarding
# every database name to Postgres at <postgres-host>:<postgres-port>. Used by scripts/services.sh (the
# local stack, port 6432), docker-compose.yml and test/support/privateServices.ts (the fault suite's and
# the bench's private instances), so all of them pool the way Azure's built-in PgBouncer does:
#   pool_mode = transaction            infra/modules/postgres.bicep sets pgbouncer.pool_mode TRANSACTION
#   ignore_startup_parameters = (none) the template leaves pgbouncer.ignore_startup_parameters at Azure's
#                                      default, empty: a startup parameter such as statement_timeout is refused
#   no max_prepared_statements         Azure's default 0: named prepared statements do not survive
#   query_wait_timeout = 5             the template sets pgbouncer.query_wait_timeout 5 (Azure's default 120):
#                                      a query with no server to run on (Postgres restarting) fails in 5 s
# https://learn.microsoft.com/azure/postgresql/flexible-server/concepts-pgbouncer
# test/unit/compose.test.ts checks these lines against the compiled template.
set -euo pipefail
[ $# -ge 4 ] || { echo "usage: $0 <state-dir> <listen-port> <postgres-host> <postgres-port> [listen-address] [--foreground]" >&2; exit 2; }
dir=$1 port=$2 pg_host=$3 pg_port=$4 address=${5:-127.0.0.1} mode=${6:-}
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

# The local stack's well-known credentials; PgBouncer logs in to Postgres with the same user and password.
printf '"postgres" "postgres"\n' >"$dir/userlist.txt"
cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=$pg_host port=$pg_port

[pgbouncer]
listen_addr = $address
listen_port = $port
unix_socket_dir =
auth_type = md5
auth_file = $dir/userlist.txt
pool_mode = transaction
ignore_startup_parameters =
max_client_conn = 5000
default_pool_size = 50
query_wait_timeout = 5
pidfile = $dir/pgbouncer.pid
logfile = $dir/pgbouncer.log
INI

# PgBouncer refuses to run as root; -u drops to the postgres user, which must own its files.
user_args=()
if [ "$(id -u)" = 0 ]; then
  chown -R postgres "$dir" 2>/dev/null || true
  user_args=(-u postgres)
fi
if [ "$mode" = --foreground ]; then
  exec pgbouncer "${user_args[@]}" "$dir/pgbouncer.ini"
fi
pgbouncer -d "${user_args[@]}" "$dir/pgbouncer.ini"

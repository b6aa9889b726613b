#!/usr/bin/env bash
# Brings up what the app and its tests need and is not already listening: Postgres (5432), PgBouncer
# in front of it (6432, transaction pooling like Azure's built-in one: scripts/pgbouncer.sh), Redis
# (6379), RabbitMQ (5672, management UI on 15672), Azurite (10000-10002) and the SMTP catcher
# for customer notifications (MailDev from node_modules: SMTP on MAILDEV_SMTP_PORT, default 1025, web
# view of received mail on MAILDEV_WEB_PORT, default 1080; set them when another instance holds those).
# With a Docker engine it uses docker-compose.yml; otherwise (Debian/Ubuntu, as root) it installs
# the OS packages when absent and starts the servers without systemd. Idempotent; quiet when all is up.
set -euo pipefail

cd "$(dirname "$0")/.."
state_dir="$PWD/.local"
mkdir -p "$state_dir/logs"

say() { printf '[services] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() { # port name seconds
  local port=$1 name=$2 deadline=$((SECONDS + $3))
  until listening "$port"; do
    ((SECONDS < deadline)) || die "$name did not start listening on port $port (logs in $state_dir/logs)"
    sleep 0.5
  done
}

mail_smtp_port=${MAILDEV_SMTP_PORT:-1025}
mail_web_port=${MAILDEV_WEB_PORT:-1080}
start_mail_catcher() {
  listening "$mail_smtp_port" && return 0
  say "starting the SMTP catcher (MailDev: SMTP $mail_smtp_port, web view http://127.0.0.1:$mail_web_port)"
  local maildev_bin="$PWD/node_modules/.bin/maildev"
  [ -x "$maildev_bin" ] || die "MailDev is not installed: run npm ci first"
  mkdir -p "$state_dir/mail"
  nohup "$maildev_bin" --smtp "$mail_smtp_port" --web "$mail_web_port" --ip 127.0.0.1 --web-ip 127.0.0.1 \
    --mail-directory "$state_dir/mail" --max-emails 1000 >"$state_dir/logs/maildev.log" 2>&1 &
  wait_for "$mail_smtp_port" MailDev 30
}

all_up() { listening 5432 && listening 6432 && listening 6379 && listening 5672 && listening 10000 && listening "$mail_smtp_port"; }
all_up && exit 0

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  say "Docker engine found: docker compose up"
  docker compose up -d --wait postgres pgbouncer redis rabbitmq azurite
  start_mail_catcher
  exit 0
fi

[ "$(id -u)" = 0 ] || die "no Docker engine and not root: start Postgres, PgBouncer, Redis, RabbitMQ and Azurite yourself (see README), or run as root to install them"
command -v apt-get >/dev/null 2>&1 || die "no Docker engine and no apt-get: start Postgres, PgBouncer, Redis, RabbitMQ and Azurite yourself (see README)"

missing=()
command -v pg_ctlcluster >/dev/null 2>&1 || missing+=(postgresql)
command -v pgbouncer >/dev/null 2>&1 || missing+=(pgbouncer)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v rabbitmq-server >/dev/null 2>&1 || missing+=(rabbitmq-server)
if ((${#missing[@]})); then
  say "installing ${missing[*]} from the OS packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >"$state_dir/logs/apt.log" 2>&1 || die "apt-get update failed (see $state_dir/logs/apt.log)"
  # policy-rc.d keeps the packages from trying to start services through an init system that is not there.
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$state_dir/logs/apt.log" 2>&1 || { rm -f /usr/sbin/policy-rc.d; die "apt-get install ${missing[*]} failed (see $state_dir/logs/apt.log)"; }
  rm -f /usr/sbin/policy-rc.d
fi

if ! listening 5432; then
  say "starting Postgres"
  cluster=$(pg_lsclusters --no-header | awk 'NR==1 {print $1" "$2}')
  if [ -z "$cluster" ]; then
    version=$(ls /usr/lib/postgresql | sort -V | tail -1)
    pg_createcluster "$version" main >/dev/null
    cluster="$version main"
  fi
  # shellcheck disable=SC2086
  pg_ctlcluster $cluster start
  wait_for 5432 Postgres 60
  su postgres -c "psql -qAt -c \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null
fi
if ! PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -qAt -c "SELECT 1 FROM pg_database WHERE datname = 'ecommerce'" | grep -q 1; then
  PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -q -c "CREATE DATABASE ecommerce" >/dev/null
fi

if ! listening 6432; then
  say "starting PgBouncer"
  bash scripts/pgbouncer.sh "$state_dir/pgbouncer" 6432 127.0.0.1 5432
  wait_for 6432 PgBouncer 30
fi

if ! listening 6379; then
  say "starting Redis"
  mkdir -p "$state_dir/redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --dir "$state_dir/redis" \
    --appendonly yes --logfile "$state_dir/logs/redis.log"
  wait_for 6379 Redis 30
fi

if ! listening 5672; then
  say "starting RabbitMQ"
  rabbitmq-plugins --offline enable rabbitmq_management >/dev/null 2>&1 || say "could not enable the management UI plugin"
  # Logs go to /var/log/rabbitmq: the server runs as the rabbitmq user, which cannot write here.
  rabbitmq-server -detached >/dev/null 2>&1 || true
  # -detached returns before the node registers, so await_startup can fail at first: poll it.
  deadline=$((SECONDS + 120))
  until rabbitmqctl await_startup --timeout 10 >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "RabbitMQ did not start (logs in /var/log/rabbitmq)"
    sleep 1
  done
  wait_for 5672 RabbitMQ 60
fi

if ! listening 10000; then
  say "starting Azurite"
  azurite_bin="$PWD/node_modules/.bin/azurite"
  [ -x "$azurite_bin" ] || die "Azurite is not installed: run npm ci first"
  mkdir -p "$state_dir/azurite"
  nohup "$azurite_bin" --silent --skipApiVersionCheck --location "$state_dir/azurite" \
    --blobHost 127.0.0.1 --queueHost 127.0.0.1 --tableHost 127.0.0.1 >"$state_dir/logs/azurite.log" 2>&1 &
  wait_for 10000 Azurite 30
fi
start_mail_catcher
say "Postgres, PgBouncer, Redis, RabbitMQ, Azurite and the SMTP catcher are up"

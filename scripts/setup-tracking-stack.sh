#!/usr/bin/env bash
# Prepare this machine for the tracking stack that the tests start and stop
# (scripts/tracking_stack.py): PostgreSQL's server binaries and, when run as
# root, the unprivileged user that owns the throwaway database (initdb and
# postgres refuse to run as root). Safe to run again; it changes nothing then.
set -euo pipefail

user="${REPROSPEC_DB_USER:-reprospec-db}"

have_server() {
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null
}

if ! have_server; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "setup: PostgreSQL's server binaries (initdb, postgres) are missing;" \
      "install PostgreSQL 13 or newer and run this again" >&2
    exit 1
  fi
  # The package would otherwise create and start a cluster of its own on 5432.
  mkdir -p /etc/postgresql-common
  [ -e /etc/postgresql-common/createcluster.conf ] ||
    echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql
fi

if [ "$(id -u)" -eq 0 ] && ! id -u "$user" >/dev/null 2>&1; then
  useradd --system --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin "$user"
  echo "setup: created the system user $user to own test databases" >&2
fi

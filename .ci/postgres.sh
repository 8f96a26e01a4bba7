# Sourced by .ci/run: start a throw-away PostgreSQL server for the tests that need one and
# export VERIFICATION_TEST_POSTGRES_URL. Guarded: without root or without the Debian package
# (and no way to install it) it only says why, and those tests skip with that reason.
# The server is stopped when the CI shell exits.

_pg_start() {
  if [ "$(id -u)" != "0" ]; then
    echo "postgres: not root, PostgreSQL tests will skip"; return 0
  fi
  if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
    echo "postgres: installing the Debian postgresql package"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql \
      >/dev/null) || { echo "postgres: install failed, PostgreSQL tests will skip"; return 0; }
  fi
  local bin; bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  local dir; dir="$(mktemp -d /tmp/verification-pg.XXXXXX)"
  chown postgres:postgres "$dir"
  local port=54329
  if ! su postgres -s /bin/sh -c "'$bin/initdb' -D '$dir/data' -A trust -U postgres -E UTF8 \
        >'$dir/initdb.log' 2>&1"; then
    echo "postgres: initdb failed (see $dir/initdb.log), PostgreSQL tests will skip"; return 0
  fi
  if ! su postgres -s /bin/sh -c "'$bin/pg_ctl' -D '$dir/data' -l '$dir/server.log' -w \
        -o \"-p $port -k '$dir' -c listen_addresses=127.0.0.1 -c fsync=off\" start >/dev/null"; then
    echo "postgres: server did not start (see $dir/server.log), PostgreSQL tests will skip"
    return 0
  fi
  su postgres -s /bin/sh -c "'$bin/createdb' -h 127.0.0.1 -p $port verification_test" || true
  export VERIFICATION_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$port/verification_test"
  _PG_STOP="su postgres -s /bin/sh -c \"'$bin/pg_ctl' -D '$dir/data' -m fast stop\" >/dev/null 2>&1; rm -rf '$dir'"
  trap 'eval "$_PG_STOP"' EXIT
  echo "postgres: test server on 127.0.0.1:$port"
}
_pg_start

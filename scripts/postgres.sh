# Sourced by scripts/test.sh: makes sure a PostgreSQL server is reachable for the tests and
# exports TEST_DATABASE_URL. The tests create their own databases and drop them.
if [[ -z "${TEST_DATABASE_URL:-}" ]]; then
  as_postgres() {
    if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
  }
  cluster=$(pg_lsclusters -h 2>/dev/null | head -n1 || true)
  if [[ -z "$cluster" ]]; then
    echo "[postgres] no PostgreSQL cluster found (install the postgresql package)" >&2
    return 1
  fi
  read -r version name _port status _rest <<<"$cluster"
  if [[ "$status" != online* ]]; then
    echo "[postgres] starting cluster $version/$name"
    pg_ctlcluster "$version" "$name" start
  fi
  for _ in $(seq 1 30); do
    as_postgres pg_isready -q -h 127.0.0.1 -p 5432 && break
    sleep 1
  done
  if [[ "$(as_postgres psql -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'sipas_test'")" != 1 ]]; then
    echo "[postgres] creating the sipas_test role"
    as_postgres psql -q -c "CREATE ROLE sipas_test LOGIN CREATEDB PASSWORD 'sipas_test'"
  fi
  # The application's role: the tests migrate as sipas_test (the owner of the databases they
  # create) and run the application as this one, as a deployment does (docs/operations.md).
  if [[ "$(as_postgres psql -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'sipas_test_app'")" != 1 ]]; then
    echo "[postgres] creating the sipas_test_app role"
    as_postgres psql -q -c "CREATE ROLE sipas_test_app LOGIN PASSWORD 'sipas_test_app'"
  fi
  export TEST_DATABASE_URL="postgres://sipas_test:sipas_test@127.0.0.1:5432/postgres"
fi

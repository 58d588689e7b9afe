#!/bin/sh
# Run once by the official postgres image when it creates the cluster (as its superuser):
# the owner that provisioning runs as, CREATEDB and CREATEROLE but not a superuser, owning the
# database. Everything after this (schemas, the records-owner roles, grants, migrations) is done
# by `huigong db provision` as that owner, as bin/stack does locally; the superuser's password
# is then needed only to administer the cluster itself (docs/security-events.md).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v password="$HUIGONG_PG_OWNER_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE huigong_owner LOGIN CREATEDB CREATEROLE PASSWORD %L', :'password') \gexec
ALTER DATABASE huigong OWNER TO huigong_owner;
GRANT ALL ON SCHEMA public TO huigong_owner;
SQL

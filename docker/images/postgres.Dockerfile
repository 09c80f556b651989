# Local stand-in for the official postgres image: Debian's PostgreSQL 15 and
# an entrypoint taking the same POSTGRES_USER/PASSWORD/DB variables.
ARG BASE
FROM ${BASE}
LABEL kurz.local-image=true
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PGDATA=/var/lib/postgresql/data
RUN mkdir -p "$PGDATA" /var/run/postgresql && chown postgres:postgres "$PGDATA" /var/run/postgresql && chmod 700 "$PGDATA"
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/postgresql/data
USER postgres
EXPOSE 5432
# Fast shutdown, as the official image: smart shutdown would wait for clients.
STOPSIGNAL SIGINT
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]

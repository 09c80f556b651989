# Local stand-in for the official redis image (no registry is reachable in
# CI): Debian's redis-server, same interface as the compose file uses it.
ARG BASE
FROM ${BASE}
LABEL kurz.local-image=true
RUN mkdir -p /data && chown redis:redis /data
WORKDIR /data
VOLUME /data
USER redis
EXPOSE 6379
CMD ["redis-server"]

# Local stand-in for tecnativa/docker-socket-proxy: Debian's HAProxy with the
# same switches (CONTAINERS=1 opens /containers; EVENTS, PING and VERSION are
# open by default; everything else, and every method but GET/HEAD, refused).
ARG BASE
FROM ${BASE}
LABEL kurz.local-image=true
ENV CONTAINERS=0 EVENTS=1 INFO=0 NETWORKS=0 PING=1 POST=0 VERSION=1
COPY socket-proxy.haproxy.cfg /etc/haproxy/haproxy.cfg
EXPOSE 2375
# Root: the Docker socket is root's (and the docker group's) on the host.
USER root
CMD ["haproxy", "-W", "-db", "-f", "/etc/haproxy/haproxy.cfg"]

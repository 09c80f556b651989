# Local stand-in for traefik:v3.6.12: the pinned build from bin/ (with its
# dashboard), on the Debian base for its C library and CA certificates.
ARG BASE
FROM ${BASE}
LABEL kurz.local-image=true
COPY traefik /usr/local/bin/traefik
EXPOSE 80
ENTRYPOINT ["/usr/local/bin/traefik"]

# The backend as CI builds it without a registry: a static binary on an empty
# base with CA certificates, time zones and an unprivileged user, like the
# distroless image of ../../Dockerfile. scripts/compose-images.sh fills rootfs/.
FROM scratch
LABEL kurz.local-image=true
COPY rootfs/ /
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/kurz"]

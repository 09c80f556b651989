# Backend image: static binary on distroless, running as an unprivileged user.
# It carries the edge plugin's source too ("kurz plugin-source DIR", for Traefik's
# init container on Kubernetes).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY .traefik.yml pluginsource.go ./
COPY link/ link/
COPY plugin/ plugin/
COPY migrations/ migrations/
COPY backend/ backend/
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/kurz ./backend/cmd/kurz

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/kurz /kurz
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/kurz"]

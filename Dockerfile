# Backend image: static binary on distroless, running as an unprivileged user.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY link/ link/
COPY migrations/ migrations/
COPY backend/ backend/
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/kurz ./backend/cmd/kurz

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/kurz /kurz
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/kurz"]

# syntax=docker/dockerfile:1
# Multi-stage build: a static binary on a distroless, non-root base.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/prometheus/common/version.Version=${VERSION}" \
      -o /out/hindsight ./cmd/hindsight && \
    mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.title="hindsight" \
      org.opencontainers.image.description="Incident timelines and post-mortem drafts from Alertmanager, PagerDuty and deploy events" \
      org.opencontainers.image.source="https://github.com/hindsight-ops/hindsight" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/hindsight /hindsight
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
VOLUME /data
EXPOSE 9097 4222
ENTRYPOINT ["/hindsight"]
CMD ["--storage.path=/data", "--nats.listen-address=0.0.0.0:4222"]

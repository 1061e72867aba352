# syntax=docker/dockerfile:1
#
# participants-etl as a static binary on a distroless, non-root base.
#
#   docker build --build-arg VERSION="$(git describe --tags --always --dirty)" \
#     -t REGISTRY/participants-etl:TAG .
#
# The build stage runs on the build machine's platform and cross-compiles
# for the target (pure Go, CGO_ENABLED=0), so `docker buildx build
# --platform linux/amd64,linux/arm64` needs no emulation.

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
# Modules first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
ARG TARGETOS
ARG TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/participants-etl ./cmd/participants-etl

# static-debian12 has CA certificates and tzdata (for --timezone and the
# CronJob's ETL_TIMEZONE) and nothing else: no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/participants-etl /participants-etl
# The nonroot user of the distroless image; the pod's securityContext
# (k8s/base/cronjob.yaml) runs as the same UID and GID.
USER 65532:65532
ENTRYPOINT ["/participants-etl"]

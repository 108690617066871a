# stsorgsync container images. The default (last) target is the production image: the daemon
# `stsorgsync` alone. The fakes (fakemo, fakests) used by docker-compose.yml are a target of their
# own and never ship in it:
#   docker build --build-arg VERSION=$(git describe --always) -t stsorgsync .
#   docker build --build-arg VERSION=$(git describe --always) --target fakes -t stsorgsync-fakes .
#
# The build stages compile static binaries; the images are distroless (no shell, no package
# manager), running as the unprivileged "nonroot" user (65532). Health checks use the binaries'
# own probe modes (`stsorgsync healthcheck`, `fakemo -healthcheck`, `fakests -healthcheck`)
# because the images have no curl. The production image writes no file, so it runs with a
# read-only root filesystem (deploy/kustomize does).

FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false

# Module downloads get their own layer: it is rebuilt only when go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download && go mod verify

COPY . .
ARG VERSION=dev
RUN go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/ ./cmd/stsorgsync \
    && /out/stsorgsync version

# The fakes, built only for the fakes target.
FROM build AS build-fakes
ARG VERSION=dev
RUN go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/ ./cmd/fakemo ./cmd/fakests \
    && mkdir -p /empty/pki

# Test doubles for the local stack (docker-compose.yml): a fake OS2MO and a fake STS Organisation.
FROM gcr.io/distroless/static-debian12:nonroot AS fakes
ARG VERSION=dev
LABEL org.opencontainers.image.title="stsorgsync-fakes" \
      org.opencontainers.image.description="fakemo and fakests, the test doubles of OS2MO and STS Organisation for stsorgsync's local stack; not for production" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/stsorgsync/stsorgsync" \
      org.opencontainers.image.base.name="gcr.io/distroless/static-debian12:nonroot"
COPY --from=build-fakes /out/fakemo /out/fakests /
# Mount point for certificates (docker-compose shares the fake STS's certificates through it);
# owned by nonroot so a named volume mounted here is writable by the fakes.
COPY --from=build-fakes --chown=65532:65532 /empty/pki /pki
USER nonroot:nonroot
# Each service names its fake as its entrypoint (/fakemo, /fakests).
ENTRYPOINT ["/fakests"]

# The production image: stsorgsync only.
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="stsorgsync" \
      org.opencontainers.image.description="Keeps KOMBIT STS Organisation in step with OS2MO" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/stsorgsync/stsorgsync" \
      org.opencontainers.image.base.name="gcr.io/distroless/static-debian12:nonroot"
COPY --from=build /out/stsorgsync /
USER nonroot:nonroot
# HTTP_LISTEN: /metrics, /healthz, /readyz.
EXPOSE 9090
ENTRYPOINT ["/stsorgsync"]
CMD ["run"]

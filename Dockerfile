# stsorgsync container image: the daemon plus the two fakes (fakemo, fakests) used by
# docker-compose.yml. Build: docker build --build-arg VERSION=$(git describe --always) -t stsorgsync .
#
# Stage 1 compiles static binaries; stage 2 is distroless (no shell, no package manager),
# running as the unprivileged "nonroot" user. Health checks use the binaries' own probe modes
# (`stsorgsync healthcheck`, `fakemo -healthcheck`, `fakests -healthcheck`) because the image
# has no curl.

FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false

# Module downloads get their own layer: it is rebuilt only when go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download && go mod verify

COPY . .
ARG VERSION=dev
RUN go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/ \
        ./cmd/stsorgsync ./cmd/fakemo ./cmd/fakests \
    && /out/stsorgsync version \
    && mkdir -p /empty/pki

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="stsorgsync" \
      org.opencontainers.image.description="Keeps KOMBIT STS Organisation in step with OS2MO (includes the fakemo and fakests test doubles)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/stsorgsync/stsorgsync" \
      org.opencontainers.image.base.name="gcr.io/distroless/static-debian12:nonroot"
COPY --from=build /out/stsorgsync /out/fakemo /out/fakests /
# Mount point for certificates (docker-compose shares the fake STS's certificates through it);
# owned by nonroot so a named volume mounted here is writable by the fakes.
COPY --from=build --chown=65532:65532 /empty/pki /pki
USER nonroot:nonroot
# HTTP_LISTEN: /metrics, /healthz, /readyz.
EXPOSE 9090
ENTRYPOINT ["/stsorgsync"]
CMD ["run"]

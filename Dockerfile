# The image deploy/palisade.yaml runs: the server binary `palisade-serve` alone, as a
# non-root user. Build from the repository root:
#   docker build -t ghcr.io/palisade-dev/palisade:0.1.0 .
# The builder needs no wasm32 toolchain: palisade-host embeds the committed, digest-checked
# plugin (bindings/host/plugin/) when none is installed.

FROM docker.io/library/rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p palisade-sidecar --bin palisade-serve \
 && install -D -m 0755 target/release/palisade-serve /out/palisade-serve

# glibc and libgcc, no shell, no package manager; uid/gid 65532 ("nonroot"), as the
# Deployment's securityContext requires.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/palisade-serve /usr/local/bin/palisade-serve
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["/usr/local/bin/palisade-serve"]

# mxlab's image: the static binary that `make image` builds (CGO_ENABLED=0)
# and nothing else: no shell, no package manager, no base image to pull,
# so `podman build --format docker .` works with no registry. The docker
# format keeps HEALTHCHECK, which the OCI format drops. Build it with
# `make image`: it prepares bin/image/rootfs first.
FROM scratch
COPY bin/image/rootfs/ /
COPY --chown=65532:65532 bin/image/state/ /var/lib/mxlab/
USER 65532:65532
ENV MXLAB_STATE_DIR=/var/lib/mxlab
# The switchboard (SMTP, any scenario, chosen through the API) and the
# HTTP API and UI, on every interface of the container. Each scenario
# listens on port 25 of its own 127.0.1.x address and the lab's DNS on
# 127.0.0.1:53, for programs that share the container's network
# namespace (compose.yaml's Postfix); binding them as a non-root user
# needs net.ipv4.ip_unprivileged_port_start=0, which Docker sets in
# containers by default and compose.yaml sets explicitly.
EXPOSE 10024 10080
# /healthz needs no token; `mxlab health` exits 0 once it answers 200.
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 CMD ["/mxlab", "health", "--api", "127.0.0.1:10080"]
ENTRYPOINT ["/mxlab"]
CMD ["serve", "--smtp-port", "25", "--smtp-net", "127.0.1.0/24", "--dns", "127.0.0.1:53", \
     "--switchboard", "0.0.0.0:10024", "--api", "0.0.0.0:10080", "--api-public", "--api-token-generate", \
     "--manifest", "/var/lib/mxlab/lab.json"]
